/**
 * `@mercado/common/errors`: AppError and the generic codes, a component's own catalogue
 * (defineErrors), and the translation of database errors by SQLSTATE.
 */
export { genericErrors, type ErrorEntry, type GenericErrorCode } from './catalogue.js';
export { AppError, type FieldError, type AppErrorOptions } from './app-error.js';
export { defineErrors, type ErrorCatalogue } from './define-errors.js';
export { fromPostgresError, isForeignKeyViolation, isUniqueViolation } from './postgres.js';
