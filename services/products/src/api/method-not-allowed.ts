import type { RequestHandler } from 'express';
import { AppError } from '@mercado/common/errors';

/** A path that exists, asked with a method it does not take; Allow lists those it does (RFC 9110 §15.5.6). */
export function methodNotAllowed(allowed: string[]): RequestHandler {
  const allow = allowed.join(', ');
  return function refuseMethod() {
    throw new AppError('method_not_allowed', { headers: { allow } });
  };
}
