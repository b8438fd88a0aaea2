import { AppError } from './app-error.js';
import type { GenericErrorCode } from './catalogue.js';

interface PostgresError {
  code: string;
  constraint?: string;
  table?: string;
}

/** SQLSTATE → catalogued code (PostgreSQL docs, Appendix A). Matched by code, never by message. */
const bySqlState: Record<string, GenericErrorCode> = {
  '23505': 'conflict', // unique_violation
  '23503': 'reference_conflict', // foreign_key_violation
  '23514': 'constraint_violation', // check_violation
  '23502': 'constraint_violation', // not_null_violation
  '23P01': 'conflict', // exclusion_violation
  '22P02': 'invalid_input', // invalid_text_representation
  '22003': 'invalid_input', // numeric_value_out_of_range
  '22001': 'invalid_input', // string_data_right_truncation
  '22007': 'invalid_input', // invalid_datetime_format
  '22008': 'invalid_input', // datetime_field_overflow
  // NUL in text (character_not_in_repertoire) or \u0000 in jsonb (untranslatable_character): the
  // router refuses NUL in any input, so only a value from elsewhere can still get here.
  '22021': 'invalid_input',
  '22P05': 'invalid_input',
  '40001': 'serialization_failure',
  '40P01': 'serialization_failure', // deadlock_detected
  '57014': 'database_timeout', // query_canceled: statement_timeout (see db/db.ts)
  '25P03': 'database_unavailable', // idle_in_transaction_session_timeout: the session was ended
  '53300': 'database_unavailable', // too_many_connections
  '57P01': 'database_unavailable', // admin_shutdown
  '57P03': 'database_unavailable', // cannot_connect_now
  '08006': 'database_unavailable', // connection_failure
  '08001': 'database_unavailable',
};

const connectionErrors = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE']);

function isPostgresError(error: unknown): error is PostgresError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}

/** Translates a database error into an AppError, or returns undefined when it is not one. */
export function fromPostgresError(error: unknown): AppError | undefined {
  if (!isPostgresError(error)) {
    if (error instanceof Error && error.name === 'KnexTimeoutError') {
      return new AppError('database_unavailable', { cause: error });
    }
    return undefined;
  }
  if (connectionErrors.has(error.code)) {
    return new AppError('database_unavailable', { cause: error });
  }
  const code = bySqlState[error.code];
  if (!code) return undefined;
  const headers =
    code === 'serialization_failure' || code === 'database_timeout'
      ? { 'retry-after': '1' }
      : undefined;
  // The constraint name is ours (from sql/), so it is safe and useful to show; the row detail is not.
  const detail = error.constraint ? `violates ${error.constraint}` : undefined;
  return new AppError(code, {
    cause: error,
    ...(detail ? { detail } : {}),
    ...(headers ? { headers } : {}),
  });
}

export function isSerializationFailure(error: unknown): boolean {
  return isPostgresError(error) && (error.code === '40001' || error.code === '40P01');
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  return (
    isPostgresError(error) &&
    error.code === '23505' &&
    (constraint === undefined || error.constraint === constraint)
  );
}

/**
 * SQLSTATE 23503 on `constraint` (any, when not given): a reference to a row that is not there,
 * or a row still referenced. The kit answers it as 409 `reference_conflict`; a service that can
 * name the missing thing (`unknown_category`) checks for it first.
 */
export function isForeignKeyViolation(error: unknown, constraint?: string): boolean {
  return (
    isPostgresError(error) &&
    error.code === '23503' &&
    (constraint === undefined || error.constraint === constraint)
  );
}
