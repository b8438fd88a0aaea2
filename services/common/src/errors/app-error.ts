import { genericErrors, type ErrorEntry, type GenericErrorCode } from './catalogue.js';

export interface FieldError {
  /** Where the bad value is: `body.email`, `query.limit`, `params.id`. */
  path: string;
  message: string;
  code: string;
}

export interface AppErrorOptions {
  detail?: string;
  errors?: FieldError[];
  headers?: Record<string, string>;
  cause?: unknown;
}

/** An error with a catalogued code; the error middleware turns it into problem+json. */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  /** One of the kit's generic codes. */
  constructor(code: GenericErrorCode, options?: AppErrorOptions);
  /** A code of a component's own catalogue (see defineErrors, which calls this). */
  constructor(code: string, options: AppErrorOptions, entry: ErrorEntry);
  constructor(code: string, options: AppErrorOptions = {}, entry?: ErrorEntry) {
    const { status, title } = entry ?? genericErrors[code as GenericErrorCode];
    super(options.detail ?? title, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.title = title;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
