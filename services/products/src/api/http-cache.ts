import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';

/**
 * Cache policies for catalog reads. A shop wants a busy listing to be served from caches, yet a
 * price change to show within seconds: caches may reuse a listing or detail for 30 s, and for
 * another 30 s while they revalidate in the background (RFC 5861). Checkout never relies on these:
 * orders reads current prices through the internal lookup.
 */
export const cachePolicy = {
  /** The same answer for every caller: browsers and shared caches may keep it. */
  publicCatalog: 'public, max-age=30, stale-while-revalidate=30',
  /** The category tree changes rarely. */
  publicCategories: 'public, max-age=60, stale-while-revalidate=60',
  /** An answer that depends on who asks (a seller's own inactive product): that browser only, and
   * revalidated each time. */
  callerSpecific: 'private, no-cache',
  /** Writes, and the internal lookup. */
  noStore: 'no-store',
} as const;

/** A weak validator: the same JSON gives the same tag, whatever served it (RFC 9110 §8.8.3). */
function entityTag(json: string): string {
  return `W/"${createHash('sha256').update(json).digest('base64url').slice(0, 27)}"`;
}

/** If-None-Match compares weakly, and `*` matches any current representation (RFC 9110 §13.1.2). */
function matchesIfNoneMatch(header: string | undefined, tag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = tag.slice(2);
  return header.split(',').some((candidate) => {
    const trimmed = candidate.trim();
    return (trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed) === opaque;
  });
}

/**
 * Sends a JSON body with an ETag and the given Cache-Control; answers 304 without a body when the
 * client already holds it (RFC 9110 §15.4.5).
 */
export function sendCacheable(req: Request, res: Response, body: unknown, cacheControl: string) {
  const json = JSON.stringify(body);
  const tag = entityTag(json);
  res.setHeader('ETag', tag);
  res.setHeader('Cache-Control', cacheControl);
  if (matchesIfNoneMatch(req.headers['if-none-match'], tag)) {
    res.status(304).end();
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.send(json);
}
