/** `@mercado/common/errors`: the generic error codes, AppError, problem+json, SQLSTATE translation. */
export { errorCatalogue, type ErrorCode } from './catalogue.js';
export { AppError, isAppError, type FieldError, type AppErrorOptions } from './app-error.js';
export { fromPostgresError, isSerializationFailure, isUniqueViolation } from './postgres.js';
export { toProblem, problemType, problemContentType, type Problem } from './problem.js';
