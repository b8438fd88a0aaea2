import { AppError, type AppErrorOptions } from './app-error.js';
import { genericErrors, type ErrorEntry, type GenericErrorCode } from './catalogue.js';

/** A component's error codes, with the kit's generic ones. */
export interface ErrorCatalogue<Code extends string = string> {
  /** Every code the component answers with: the generic ones, then its own. */
  readonly entries: Readonly<Record<GenericErrorCode | Code, ErrorEntry>>;
  /** An error with one of these codes: throw it, and the error middleware answers it. */
  error(code: GenericErrorCode | Code, options?: AppErrorOptions): AppError;
}

/**
 * A component's own error catalogue (its `errors.ts`): the codes only it answers with, beside the
 * kit's generic ones, which it may not redefine (a code means one thing everywhere).
 */
export function defineErrors<const E extends Record<string, ErrorEntry>>(
  own: E & { readonly [K in GenericErrorCode]?: never },
): ErrorCatalogue<Extract<keyof E, string>> {
  for (const code of Object.keys(own)) {
    if (Object.hasOwn(genericErrors, code)) throw new Error(`${code} is one of the kit's codes`);
    if (!/^[a-z][a-z0-9_]*$/.test(code)) throw new Error(`${code}: codes are snake_case`);
  }
  const entries = Object.freeze({ ...genericErrors, ...own }) as Readonly<
    Record<GenericErrorCode | Extract<keyof E, string>, ErrorEntry>
  >;
  return {
    entries,
    error(code, options = {}) {
      return new AppError(code, options, entries[code]);
    },
  };
}
