import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

/** A private Ed25519 signing key as the users service takes it in JWT_SIGNING_KEYS. */
export type SigningJwk = JWK & { kid: string; alg: 'EdDSA'; use: 'sig' };

/**
 * Generates a fresh Ed25519 key pair and returns its private half as a JWK. The `kid` starts with
 * the creation date, so an operator rotating keys can tell the old key from the new one at a glance.
 */
export async function generateSigningKey(now = new Date()): Promise<SigningJwk> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = `${now.toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`;
  return { ...jwk, kid, alg: 'EdDSA', use: 'sig' };
}
