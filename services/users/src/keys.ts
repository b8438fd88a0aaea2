import { randomUUID } from 'node:crypto';
import { SignJWT, importJWK, type CryptoKey, type JWK } from 'jose';
import { z } from 'zod';
import { ConfigError } from '@mercado/common/config';
import { type Role } from '@mercado/common/identity';

const privateJwk = z.object({
  kty: z.literal('OKP'),
  crv: z.literal('Ed25519'),
  x: z.string().min(1),
  d: z.string().min(1),
  kid: z.string().min(1).max(100),
});

interface LoadedKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface AccessTokenClaims {
  userId: string;
  roles: Role[];
  /**
   * When the token is issued: its `iat`, kept to the millisecond (a NumericDate may be
   * fractional, RFC 7519 §2), since a revocation refuses the tokens issued at or before an
   * instant and a fresh token issued in the same second must not be caught by it. Now, if absent.
   */
  issuedAt?: Date;
}

export interface SigningKeys {
  /** The public half of every configured key: old keys stay published so their tokens verify. */
  jwks: { keys: JWK[] };
  activeKid: string;
  signAccessToken(claims: AccessTokenClaims): Promise<string>;
}

export interface KeyOptions {
  keysJson: string;
  activeKid?: string | undefined;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

/**
 * Loads the signing keys from configuration. Rotation without logging anyone out: add the new key,
 * make it active, and remove the old one only after ACCESS_TOKEN_TTL_SECONDS, while its tokens may
 * still be in use. Verifiers (the gateway) refetch the JWKS when they meet an unknown kid.
 */
export async function loadSigningKeys(options: KeyOptions): Promise<SigningKeys> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(options.keysJson);
  } catch {
    throw new ConfigError(['JWT_SIGNING_KEYS must be a JSON array of Ed25519 private JWKs']);
  }
  const result = z.array(privateJwk).min(1).safeParse(parsed);
  if (!result.success) {
    throw new ConfigError([
      'JWT_SIGNING_KEYS must be a JSON array of Ed25519 private JWKs with kid',
    ]);
  }
  const loaded: LoadedKey[] = [];
  for (const jwk of result.data) {
    const privateKey = (await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA')) as CryptoKey;
    loaded.push({
      kid: jwk.kid,
      privateKey,
      // The public half of an OKP key is its `x`; `d` never leaves this process.
      publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: jwk.kid, alg: 'EdDSA', use: 'sig' },
    });
  }
  if (new Set(loaded.map((key) => key.kid)).size !== loaded.length) {
    throw new ConfigError(['JWT_SIGNING_KEYS has two keys with the same kid']);
  }
  const active = options.activeKid
    ? loaded.find((key) => key.kid === options.activeKid)
    : loaded[0];
  if (!active) throw new ConfigError(['JWT_ACTIVE_KID names no key of JWT_SIGNING_KEYS']);

  return {
    jwks: { keys: loaded.map((key) => key.publicJwk) },
    activeKid: active.kid,
    signAccessToken({ userId, roles, issuedAt = new Date() }) {
      const iat = issuedAt.getTime() / 1_000;
      return new SignJWT({ roles })
        .setProtectedHeader({ alg: 'EdDSA', kid: active.kid, typ: 'at+jwt' })
        .setSubject(userId)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt(iat)
        .setExpirationTime(Math.floor(iat) + options.ttlSeconds)
        .setJti(randomUUID())
        .sign(active.privateKey);
    },
  };
}
