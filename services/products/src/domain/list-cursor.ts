import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '@mercado/common/errors';
import type { ListPosition, ProductSort } from '../data/products-repository.js';

/**
 * A list cursor is `payload.mac`, both base64url: the payload names the sort and the last row's
 * key, the MAC (HMAC-SHA256, truncated to 128 bits) covers the payload and the query's filters. So a
 * cursor is opaque, cannot be edited, and only continues the listing it came from: with other
 * filters or another sort it is refused rather than silently paging something else.
 */

const macBytes = 16;
const version = 1;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The cursor key, derived from the internal secret so the secret's other uses never share a MAC. */
export function deriveCursorKey(internalSecret: string): Buffer {
  return createHmac('sha256', internalSecret).update('mercado/products/list-cursor/v1').digest();
}

function mac(key: Buffer, payload: string, fingerprint: string): Buffer {
  return createHmac('sha256', key)
    .update(payload)
    .update('\n')
    .update(fingerprint)
    .digest()
    .subarray(0, macBytes);
}

function invalidCursor(message: string): AppError {
  return new AppError('validation_failed', {
    errors: [{ path: 'query.cursor', message, code: 'invalid_cursor' }],
  });
}

function keyOf(position: ListPosition): unknown[] {
  switch (position.sort) {
    case 'newest':
      return [position.createdAt.toISOString(), position.id];
    case 'price_asc':
    case 'price_desc':
      return [position.priceMinor, position.id];
    case 'relevance':
      return [position.rank, position.createdAt.toISOString(), position.id];
  }
}

export function encodeCursor(key: Buffer, position: ListPosition, fingerprint: string): string {
  const payload = Buffer.from(
    JSON.stringify({ v: version, s: position.sort, k: keyOf(position) }),
  ).toString('base64url');
  return `${payload}.${mac(key, payload, fingerprint).toString('base64url')}`;
}

function isDate(value: unknown): value is string {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value));
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value);
}

function isPrice(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function positionFrom(sort: ProductSort, key: unknown[]): ListPosition | undefined {
  if (sort === 'newest' && key.length === 2) {
    const [createdAt, id] = key;
    if (isDate(createdAt) && isId(id)) return { sort, createdAt: new Date(createdAt), id };
  }
  if ((sort === 'price_asc' || sort === 'price_desc') && key.length === 2) {
    const [priceMinor, id] = key;
    if (isPrice(priceMinor) && isId(id)) return { sort, priceMinor, id };
  }
  if (sort === 'relevance' && key.length === 3) {
    const [rank, createdAt, id] = key;
    if (typeof rank === 'number' && Number.isFinite(rank) && isDate(createdAt) && isId(id)) {
      return { sort, rank, createdAt: new Date(createdAt), id };
    }
  }
  return undefined;
}

/**
 * Reads a cursor back for the listing about to run (its sort and filter fingerprint). Anything
 * other than a cursor this service issued for this very listing is a 400 on `query.cursor`.
 */
export function decodeCursor(
  key: Buffer,
  cursor: string,
  sort: ProductSort,
  fingerprint: string,
): ListPosition {
  const parts = cursor.split('.');
  const base64url = /^[A-Za-z0-9_-]+$/;
  if (parts.length !== 2 || !parts.every((part) => base64url.test(part))) {
    throw invalidCursor('is not a cursor this API issued');
  }
  const [payload, signature] = parts as [string, string];
  const expected = mac(key, payload, fingerprint);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw invalidCursor('is not a cursor this API issued for this search and these filters');
  }
  let parsed: { v?: unknown; s?: unknown; k?: unknown } | null;
  try {
    parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof parsed;
  } catch {
    parsed = null;
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw invalidCursor('is not a cursor this API issued');
  }
  if (parsed.s !== sort) throw invalidCursor('was issued for another sort order');
  const position =
    parsed.v === version && Array.isArray(parsed.k) ? positionFrom(sort, parsed.k) : undefined;
  if (!position) throw invalidCursor('is not a cursor this API issued');
  return position;
}
