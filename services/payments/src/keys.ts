import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { z } from 'zod';
import {
  cardKeyAlgorithm,
  cardSchema,
  type cardKeyCurves,
  type Card,
  type CardPublicJwk,
} from '@mercado/common/contract';
import { decryptCompact, importCardKey, readCompact, type CardDecryptionKey } from './card-jwe.js';

/**
 * `@mercado/payments/keys`: the private keys payments decrypts cards with. Importable by the
 * launcher (it generates the first key) without loading the service.
 */

const kid = z.string().regex(/^[A-Za-z0-9._-]{1,100}$/);
/** The JOSE algorithm, when a key names one, must be the one cards are encrypted with. */
const alg = z.literal(cardKeyAlgorithm).optional();

/** A private key as PAYMENTS_CARD_KEYS holds it: P-256 (EC) or X25519 (OKP), with a kid. */
export const cardPrivateJwkSchema = z.discriminatedUnion('kty', [
  z.object({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: z.string().min(1),
    y: z.string().min(1),
    d: z.string().min(1),
    kid,
    alg,
  }),
  z.object({
    kty: z.literal('OKP'),
    crv: z.literal('X25519'),
    x: z.string().min(1),
    d: z.string().min(1),
    kid,
    alg,
  }),
]);
export type CardPrivateJwk = z.infer<typeof cardPrivateJwkSchema>;

/**
 * PAYMENTS_CARD_KEYS: a JSON array of private JWKs, the first one active (announced first), the
 * others still accepted. Its messages name the fault, never a value: this is a secret.
 */
export const cardKeysSetting = z
  .string()
  .transform(function parseCardKeys(text, context) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      context.addIssue({ code: 'custom', message: 'must be a JSON array of private JWKs' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(cardPrivateJwkSchema, {
        error: 'must be a JSON array of P-256 or X25519 private JWKs, each with a kid',
      })
      .min(1, { error: 'must hold at least one key' })
      .max(10, { error: 'holds at most 10 keys' })
      .refine((keys) => new Set(keys.map((key) => key.kid)).size === keys.length, {
        error: 'has two keys with the same kid',
      }),
  );

/**
 * A new private key for PAYMENTS_CARD_KEYS (X25519 unless asked otherwise), with a random kid.
 * The launcher calls it once and keeps the result with its other secrets; an operator prepends
 * another to rotate.
 */
export async function generateCardKey(
  curve: (typeof cardKeyCurves)[number] = 'X25519',
): Promise<CardPrivateJwk> {
  const { privateKey } = await generateKeyPair(cardKeyAlgorithm, { crv: curve, extractable: true });
  const jwk = await exportJWK(privateKey);
  return cardPrivateJwkSchema.parse({ ...jwk, kid: `card-${randomUUID()}`, alg: cardKeyAlgorithm });
}

/** What a decryption may fail for: stable codes, never the ciphertext or the card. */
export type CardDecryptionFailure = 'unreadable_card' | 'unknown_key' | 'invalid_card';

export type DecryptedCard =
  { ok: true; card: Card; kid: string } | { ok: false; reason: CardDecryptionFailure };

export interface CardKeyring {
  /** The public half of every key, the active one first: what `payments/keys` announces. */
  publicKeys: CardPublicJwk[];
  activeKid: string;
  /**
   * Decrypts a compact JWE made for one of the keys and reads the card in it (the contract's
   * `cardSchema`). The card lives in the caller's memory only; it is never stored or logged.
   */
  decrypt(jwe: string): Promise<DecryptedCard>;
}

function publicHalf(jwk: CardPrivateJwk): CardPublicJwk {
  // `d` never leaves this process.
  return jwk.kty === 'EC'
    ? {
        kty: 'EC',
        crv: jwk.crv,
        x: jwk.x,
        y: jwk.y,
        kid: jwk.kid,
        alg: cardKeyAlgorithm,
        use: 'enc',
      }
    : { kty: 'OKP', crv: jwk.crv, x: jwk.x, kid: jwk.kid, alg: cardKeyAlgorithm, use: 'enc' };
}

/** The keyring of the configured keys (PAYMENTS_CARD_KEYS, parsed by the config). */
export async function loadCardKeyring(keys: readonly CardPrivateJwk[]): Promise<CardKeyring> {
  const imported = new Map<string, CardDecryptionKey>();
  for (const jwk of keys) imported.set(jwk.kid, importCardKey(jwk));
  const first = keys[0];
  if (!first) throw new Error('PAYMENTS_CARD_KEYS holds no key');
  return {
    publicKeys: keys.map(publicHalf),
    activeKid: first.kid,
    async decrypt(jwe) {
      const compact = readCompact(jwe);
      if (!compact) return { ok: false, reason: 'unreadable_card' };
      const headerKid = compact.header.kid;
      const key = typeof headerKid === 'string' ? imported.get(headerKid) : undefined;
      if (!key) return { ok: false, reason: 'unknown_key' };
      const plaintext = decryptCompact(compact, key);
      if (!plaintext) return { ok: false, reason: 'unreadable_card' };
      let value: unknown;
      try {
        value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext));
      } catch {
        return { ok: false, reason: 'invalid_card' };
      } finally {
        plaintext.fill(0);
      }
      const card = cardSchema.safeParse(value);
      return card.success
        ? { ok: true, card: card.data, kid: headerKid as string }
        : { ok: false, reason: 'invalid_card' };
    },
  };
}
