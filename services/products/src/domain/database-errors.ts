/**
 * SQLSTATE 23503 (foreign_key_violation) on one named constraint. The kit answers these as a
 * generic 409; the catalog names the missing or still-used thing instead. Matched by code and
 * constraint, never by message text.
 */
export function isForeignKeyViolation(error: unknown, constraint: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, constraint: name } = error as { code?: unknown; constraint?: unknown };
  return code === '23503' && name === constraint;
}
