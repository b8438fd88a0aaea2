import { randomBytes } from 'node:crypto';

/** Crockford's base32: no I, L, O or U, so a code read aloud or typed is not mistaken. */
const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A new pay code: 40 random bits as 8 characters of Crockford's base32, the code a shopper shows
 * (or reads out) at a shop's terminal to pay the order there. Unique among orders (the database's
 * `orders_pay_code_key`): a checkout that draws one in use draws again.
 */
export function newPayCode(): string {
  const bytes = randomBytes(5);
  let bits = 0n;
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
  let code = '';
  for (let shift = 35n; shift >= 0n; shift -= 5n) code += alphabet[Number((bits >> shift) & 31n)];
  return code;
}

/** How people read it: `K7QM-2XWP`. */
export function groupedPayCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}
