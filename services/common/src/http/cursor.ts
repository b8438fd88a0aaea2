import { createHmac, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { AppError } from '../errors/app-error.js';

const macBytes = 16;

export interface CursorCodec {
  /** An opaque cursor for `payload` (JSON), bound to `context` (the listing's filters, say). */
  encode(payload: unknown, context?: string): string;
  /**
   * The payload of a cursor this codec issued for the same `context`; anything else (edited,
   * truncated, from another listing) is a 400 `validation_failed` on `query.cursor`.
   */
  decode<S extends z.ZodType>(cursor: string, schema: S, context?: string): z.output<S>;
}

function invalidCursor(): AppError {
  return new AppError('validation_failed', {
    errors: [
      { path: 'query.cursor', message: 'is not a cursor this API issued', code: 'invalid_cursor' },
    ],
  });
}

/**
 * Keyset-pagination cursors: `payload.mac`, both base64url, the MAC an HMAC-SHA256 (truncated to
 * 128 bits) under a key derived from `secret` for this `purpose` alone. Clients cannot forge or
 * edit one, so the payload can be trusted to have the shape this service wrote.
 */
export function createCursorCodec(secret: string, purpose: string): CursorCodec {
  const key = createHmac('sha256', secret).update(`mercado/cursor/${purpose}`).digest();
  const mac = (payload: string, context: string) =>
    createHmac('sha256', key)
      .update(payload)
      .update('\n')
      .update(context)
      .digest()
      .subarray(0, macBytes);
  return {
    encode(payload, context = '') {
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `${body}.${mac(body, context).toString('base64url')}`;
    },
    decode(cursor, schema, context = '') {
      const [body, signature, ...rest] = cursor.split('.');
      if (!body || !signature || rest.length > 0) throw invalidCursor();
      const given = Buffer.from(signature, 'base64url');
      const expected = mac(body, context);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw invalidCursor();
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
      } catch {
        throw invalidCursor();
      }
      const result = schema.safeParse(parsed);
      if (!result.success) throw invalidCursor();
      return result.data;
    },
  };
}
