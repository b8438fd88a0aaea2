import type { z } from 'zod';
import { AppError, type FieldError } from '../errors/app-error.js';

export type RequestPart = 'body' | 'query' | 'params' | 'headers';

/** Turns zod issues into field errors with dotted paths rooted at the request part. */
export function fieldErrors(part: RequestPart, issues: z.core.$ZodIssue[]): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of issues) {
    const base = [part, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        errors.push({ path: `${base}.${key}`, message: 'is not allowed', code: 'unknown_field' });
      }
      continue;
    }
    errors.push({ path: base, message: issue.message, code: issue.code });
  }
  return errors;
}

/**
 * Validates one part of a request against a schema and returns the parsed, typed value; throws
 * `validation_failed` listing every bad field otherwise.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  part: RequestPart = 'body',
): z.output<S> {
  const result = schema.safeParse(value ?? (part === 'body' ? undefined : {}));
  if (result.success) return result.data;
  throw new AppError('validation_failed', { errors: fieldErrors(part, result.error.issues) });
}
