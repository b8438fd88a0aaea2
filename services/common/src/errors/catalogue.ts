/** A catalogued error: the status it answers with, and a title for people. */
export interface ErrorEntry {
  readonly status: number;
  readonly title: string;
}

/**
 * The error codes any Mercado component may answer with: the shape of a request, who calls, and
 * what the kit itself does (the database, other services). A component's own codes live in its
 * own catalogue (`defineErrors`). A code is stable: clients branch on it, so it is never renamed;
 * the title is for people and may be reworded.
 */
export const genericErrors = {
  // The request's shape (RFC 9110 §15.5)
  invalid_json: { status: 400, title: 'The request body is not valid JSON' },
  validation_failed: { status: 400, title: 'The request did not pass validation' },
  invalid_path: { status: 400, title: 'The request path is not percent-encoded UTF-8' },
  invalid_input: { status: 400, title: 'A value has the wrong form for the database' },
  bad_request: { status: 400, title: 'The request is not valid HTTP' },
  unauthorized: { status: 401, title: 'Authentication is required' },
  invalid_identity: { status: 401, title: 'The identity headers are not signed by the gateway' },
  forbidden: { status: 403, title: 'Your roles do not allow this' },
  not_found: { status: 404, title: 'Nothing is here' },
  method_not_allowed: { status: 405, title: 'This method is not allowed on this resource' },
  request_timeout: { status: 408, title: 'The request did not arrive in time' },
  conflict: { status: 409, title: 'The request conflicts with existing data' },
  reference_conflict: { status: 409, title: 'A referenced record is missing or still in use' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'The request body must be application/json' },
  constraint_violation: { status: 422, title: 'The data breaks a rule the database enforces' },
  headers_too_large: { status: 431, title: 'The request line or headers are too large' },
  // Server side
  internal: { status: 500, title: 'Something went wrong on our side' },
  service_unavailable: { status: 503, title: 'A service this request needs is unavailable' },
  database_unavailable: { status: 503, title: 'The database is unavailable' },
  database_timeout: { status: 503, title: 'The database took too long to answer; retry' },
  serialization_failure: { status: 503, title: 'A concurrent change got in the way; retry' },
} as const satisfies Record<string, ErrorEntry>;

export type GenericErrorCode = keyof typeof genericErrors;
