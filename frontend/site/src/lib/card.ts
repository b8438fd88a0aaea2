import { CompactEncrypt, importJWK } from 'jose';
import { get } from './api.js';

/**
 * A card as the shopper types it, checked here (Luhn, expiry, CVC) before anything is sent, then
 * encrypted in the browser for the payments service's public key: a compact JWE, ECDH-ES+A256KW
 * with A256GCM, as the topic contract's card encryption makes it (`services/common/src/contract/
 * card-encryption.ts`). Only payments holds the private key: the gateway, the broker and every
 * log see ciphertext. The keys are the gateway's `GET /api/payments/keys.json` (payments
 * announces them); the first is the current one.
 */
export interface TypedCard {
  number: string;
  expiry: string;
  cvc: string;
  holder: string;
}

export interface Card {
  number: string;
  expMonth: number;
  expYear: number;
  cvc: string;
  holder?: string;
}

/** The sandbox's test cards (services/payments/README.md), shown in the form's hint. */
export const testCards: ReadonlyArray<{ number: string; outcome: string }> = [
  { number: '4242 4242 4242 4242', outcome: 'approved' },
  { number: '5555 5555 5555 4444', outcome: 'approved' },
  { number: '4000 0000 0000 0002', outcome: 'declined' },
  { number: '4000 0000 0000 9995', outcome: 'insufficient funds' },
  { number: '4000 0000 0000 0069', outcome: 'expired card' },
];

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return digits.length >= 12 && sum % 10 === 0;
}

/** The card, or each field's problem (by field name). */
export function checkCard(
  typed: TypedCard,
  today = new Date(),
): { card: Card } | { problems: Record<string, string> } {
  const problems: Record<string, string> = {};
  const number = typed.number.replace(/[\s-]/g, '');
  if (!/^\d{12,19}$/.test(number)) problems.number = 'A card number is 12 to 19 digits.';
  else if (!luhnValid(number)) problems.number = 'This card number has a typo.';
  const expiry = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(typed.expiry);
  let expMonth = 0;
  let expYear = 0;
  if (!expiry) {
    problems.expiry = 'The expiry as MM/YY.';
  } else {
    expMonth = Number(expiry[1]);
    expYear = Number(expiry[2]!.length === 2 ? `20${expiry[2]}` : expiry[2]);
    const thisMonth = today.getFullYear() * 12 + today.getMonth() + 1;
    if (expMonth < 1 || expMonth > 12) problems.expiry = 'The month is 01 to 12.';
    else if (expYear * 12 + expMonth < thisMonth) problems.expiry = 'This card has expired.';
    else if (expYear > 2100) problems.expiry = 'The expiry as MM/YY.';
  }
  const cvc = typed.cvc.trim();
  const amex = /^3[47]/.test(number);
  if (!(amex ? /^\d{4}$/ : /^\d{3}$/).test(cvc)) {
    problems.cvc = amex ? 'The 4 digits on the front.' : 'The 3 digits on the back.';
  }
  if (Object.keys(problems).length > 0) return { problems };
  const holder = typed.holder.trim().slice(0, 100);
  return { card: { number, expMonth, expYear, cvc, ...(holder ? { holder } : {}) } };
}

let keys: Promise<{ keys: Array<Record<string, unknown>> }> | undefined;

export async function encryptCard(card: Card): Promise<string> {
  keys ??= get<{ keys: Array<Record<string, unknown>> }>('/payments/keys.json').catch(
    (error: unknown) => {
      keys = undefined;
      throw error;
    },
  );
  const key = (await keys).keys[0];
  if (!key) throw new Error('the payments service has announced no key yet');
  // Only the public members: nothing else of the JWK is imported.
  const members =
    key.kty === 'EC'
      ? { kty: 'EC', crv: key.crv, x: key.x, y: key.y }
      : { kty: 'OKP', crv: key.crv, x: key.x };
  const publicKey = await importJWK(members as Parameters<typeof importJWK>[0], 'ECDH-ES+A256KW');
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(card)))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: String(key.kid) })
    .encrypt(publicKey);
}

/** After `unknown_key`: payments rotated its key; the next encryption fetches them again. */
export function forgetKeys(): void {
  keys = undefined;
}
