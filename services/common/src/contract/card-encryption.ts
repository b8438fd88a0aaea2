import { CompactEncrypt, importJWK } from 'jose';
import { z } from 'zod';
import { cardSchema, type Card } from './payloads.js';

/**
 * How a card is encrypted for the payments service (RFC 7516 compact JWE, RFC 7518 §4.6): an
 * ephemeral-static ECDH key agreement on P-256 or X25519 wraps a fresh AES-256 key (A256KW), which
 * encrypts the card's JSON (A256GCM). Payments accepts nothing else, so a sender cannot pick a
 * weaker algorithm.
 */
export const cardKeyAlgorithm = 'ECDH-ES+A256KW';
export const cardContentEncryption = 'A256GCM';
export const cardKeyCurves = ['P-256', 'X25519'] as const;

/** One public key payments announces on `payments/keys`: only what encryption needs. */
export const cardPublicJwkSchema = z.discriminatedUnion('kty', [
  z.object({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: z.string().min(1),
    y: z.string().min(1),
    kid: z.string().min(1).max(100),
    alg: z.literal(cardKeyAlgorithm),
    use: z.literal('enc'),
  }),
  z.object({
    kty: z.literal('OKP'),
    crv: z.literal('X25519'),
    x: z.string().min(1),
    kid: z.string().min(1).max(100),
    alg: z.literal(cardKeyAlgorithm),
    use: z.literal('enc'),
  }),
]);
export type CardPublicJwk = z.infer<typeof cardPublicJwkSchema>;

/** Public keys imported once: importing is a good part of the cost of each encryption. */
const importedKeys = new Map<string, ReturnType<typeof importJWK>>();
const maxImportedKeys = 16;

function importedKey(members: Record<string, unknown>): ReturnType<typeof importJWK> {
  const id = JSON.stringify(members);
  let imported = importedKeys.get(id);
  if (!imported) {
    // A handful of keys live at once (rotation); forget the oldest beyond that.
    if (importedKeys.size >= maxImportedKeys) {
      importedKeys.delete(importedKeys.keys().next().value!);
    }
    imported = importJWK(members, cardKeyAlgorithm);
    importedKeys.set(id, imported);
    imported.catch(() => importedKeys.delete(id));
  }
  return imported;
}

/**
 * Encrypts a card for the first (active) key of payments' public key set, as the gateway does for
 * a client that sends a card in clear (and a browser can, with the same library). Throws a
 * TypeError naming what is wrong, never a value of the card: a card the contract's `cardSchema`
 * refuses, or a key set with no usable first key.
 */
export async function encryptCard(
  card: Card,
  publicKeys: { keys: readonly unknown[] },
): Promise<string> {
  const checked = cardSchema.safeParse(card);
  if (!checked.success) {
    const fields = [...new Set(checked.error.issues.map((issue) => issue.path.join('.')))];
    throw new TypeError(`card refused: ${fields.join(', ')}`);
  }
  const key = cardPublicJwkSchema.safeParse(publicKeys.keys[0]);
  if (!key.success) throw new TypeError('the key set has no usable first key');
  // Only the public members: a private JWK handed here by mistake would import as a private key.
  const { kid, ...members } = key.data;
  const publicMembers =
    key.data.kty === 'EC'
      ? { kty: 'EC', crv: members.crv, x: members.x, y: key.data.y }
      : { kty: 'OKP', crv: members.crv, x: members.x };
  const publicKey = await importedKey(publicMembers);
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(checked.data)))
    .setProtectedHeader({ alg: cardKeyAlgorithm, enc: cardContentEncryption, kid })
    .encrypt(publicKey);
}
