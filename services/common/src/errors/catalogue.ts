/**
 * Every error code a Mercado API can answer with, in one place. A code is stable: clients branch on
 * it, so it is never renamed; the title is for people and may be reworded.
 */
export const errorCatalogue = {
  // Request shape (RFC 9110 §15.5)
  invalid_json: { status: 400, title: 'The request body is not valid JSON' },
  validation_failed: { status: 400, title: 'The request did not pass validation' },
  invalid_path: { status: 400, title: 'The request path is not percent-encoded UTF-8' },
  invalid_input: { status: 400, title: 'A value has the wrong form for the database' },
  unauthorized: { status: 401, title: 'Authentication is required' },
  invalid_token: { status: 401, title: 'The access token is invalid or expired' },
  invalid_identity: { status: 401, title: 'The identity headers are not signed by the gateway' },
  forbidden: { status: 403, title: 'Your roles do not allow this' },
  not_found: { status: 404, title: 'Nothing is here' },
  method_not_allowed: { status: 405, title: 'This method is not allowed on this resource' },
  conflict: { status: 409, title: 'The request conflicts with existing data' },
  reference_conflict: { status: 409, title: 'A referenced record is missing or still in use' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'The request body must be application/json' },
  constraint_violation: { status: 422, title: 'The data breaks a rule the database enforces' },
  too_many_requests: { status: 429, title: 'Too many requests; retry later' },
  // Server side
  internal: { status: 500, title: 'Something went wrong on our side' },
  service_unavailable: { status: 503, title: 'A service this request needs is unavailable' },
  database_unavailable: { status: 503, title: 'The database is unavailable' },
  serialization_failure: { status: 503, title: 'A concurrent change got in the way; retry' },
  upstream_unavailable: { status: 503, title: 'The service behind this route is unavailable' },
  upstream_timeout: { status: 504, title: 'The service behind this route did not answer in time' },
  // Users service
  email_taken: { status: 409, title: 'An account with this email already exists' },
  weak_password: { status: 400, title: 'The password does not meet the policy' },
  invalid_credentials: { status: 401, title: 'Email or password is wrong' },
  account_disabled: { status: 403, title: 'This account is disabled' },
  invalid_refresh_token: { status: 401, title: 'The refresh token is invalid or expired' },
  refresh_token_reused: {
    status: 401,
    title: 'The refresh token was already used; its session has been revoked',
  },
  login_throttled: { status: 429, title: 'Too many failed logins; retry later' },
  cannot_modify_self: { status: 409, title: 'Admins cannot disable or demote themselves' },
  terminal_not_found: { status: 404, title: 'No terminal with this id is registered' },
  terminal_id_taken: {
    status: 409,
    title: 'This terminal id is taken (the ids of deleted terminals are never reused)',
  },
  // Products service
  sku_taken: { status: 409, title: 'This seller already has a product with this SKU' },
  unknown_category: { status: 422, title: 'The category does not exist' },
  category_in_use: { status: 409, title: 'The category still has products or subcategories' },
  slug_taken: { status: 409, title: 'A category with this slug already exists' },
  category_cycle: {
    status: 422,
    title: 'A category cannot move under itself or one of its subcategories',
  },
  not_owner: {
    status: 403,
    title: 'Only the seller who owns this product (or an admin) may do this',
  },
  // Inventory service
  unknown_region: { status: 422, title: 'The region is not one this shop serves' },
  unknown_product: { status: 422, title: 'The product does not exist or is inactive' },
  insufficient_stock: { status: 409, title: 'Not enough stock available' },
  reservation_not_found: { status: 404, title: 'No reservation exists for this order' },
  reservation_conflict: {
    status: 409,
    title: 'The reservation is not in a state that allows this',
  },
  negative_stock: { status: 409, title: 'Stock on hand cannot go below what is reserved' },
  // Gateway
  rate_limited: { status: 429, title: 'Too many requests; slow down' },
  circuit_open: {
    status: 503,
    title: 'The service behind this route is failing; retry shortly',
  },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalogue;
