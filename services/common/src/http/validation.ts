import type { z } from 'zod';
import type { FieldError } from '../errors/app-error.js';

export type RequestPart = 'body' | 'query' | 'params';

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
 * Every string (value or key) holding U+0000, wherever it sits in `value`. Postgres text cannot
 * hold NUL (it refuses it with SQLSTATE 22021, jsonb with 22P05), and no Mercado field means
 * one, so it is refused for every operation here rather than in each schema. The walk uses its
 * own stack: a JSON body may nest deeper than the call stack goes.
 */
export function nulCharacters(part: RequestPart, value: unknown): FieldError[] {
  const found: FieldError[] = [];
  const pending: Array<[unknown, string]> = [[value, part]];
  const refuse = (path: string) =>
    found.push({ path, message: 'must not contain NUL characters', code: 'nul_character' });
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, path] = next;
    if (typeof item === 'string') {
      if (item.includes('\u0000')) refuse(path);
    } else if (typeof item === 'object' && item !== null) {
      // Children go on the stack last first, so the walk (and the answer) follows document order.
      const entries = Array.isArray(item)
        ? item.map((element, index): [string, unknown] => [String(index), element])
        : Object.entries(item);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, element] = entries[i]!;
        if (key.includes('\u0000')) refuse(`${path}.${key}`);
        else pending.push([element, `${path}.${key}`]);
      }
    }
  }
  return found;
}
