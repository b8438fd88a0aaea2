import { createHash } from 'node:crypto';

/** A weak validator: the same JSON gives the same tag, whatever replica served it (RFC 9110 §8.8.3). */
export function entityTag(body: string | Buffer): string {
  return `W/"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/**
 * Whether `If-None-Match` names the current representation: it compares weakly, and `*` matches
 * any current representation (RFC 9110 §13.1.2).
 */
export function matchesIfNoneMatch(header: string | undefined, tag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = withoutWeakPrefix(tag);
  return header.split(',').some((candidate) => withoutWeakPrefix(candidate.trim()) === opaque);
}

function withoutWeakPrefix(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}
