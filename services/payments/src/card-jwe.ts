import {
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
} from 'node:crypto';
import { cardContentEncryption, cardKeyAlgorithm } from '@mercado/common/contract';

/**
 * The one JWE payments reads, decrypted with node:crypto's one-shot primitives: compact
 * serialization, `alg` ECDH-ES+A256KW on P-256 or X25519, `enc` A256GCM (RFC 7516, RFC 7518 §4.6
 * and §5.3, RFC 8037). Anything else — another algorithm, a `zip`, a `crit` header, an ephemeral
 * key on another curve, an all-zero X25519 secret, a wrapped key or tag that does not check — is
 * refused (undefined), never guessed at. jose's WebCrypto path did the same at several times the
 * CPU per card (README, "Benchmarks"); cards are still encrypted with jose, so every test that
 * pays proves the two agree.
 */

/** A private card key as node:crypto holds it, with the JWK curve its ephemeral keys must use. */
export interface CardDecryptionKey {
  key: KeyObject;
  kty: 'EC' | 'OKP';
  crv: 'P-256' | 'X25519';
}

export function importCardKey(jwk: {
  kty: 'EC' | 'OKP';
  crv: 'P-256' | 'X25519';
  x: string;
  y?: string;
  d: string;
}): CardDecryptionKey {
  const members =
    jwk.kty === 'EC'
      ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d }
      : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d };
  return { key: createPrivateKey({ key: members, format: 'jwk' }), kty: jwk.kty, crv: jwk.crv };
}

const base64url = /^[A-Za-z0-9_-]*$/;

/** Strict base64url (no padding, no other characters): Buffer.from alone skips what it dislikes. */
function decode(part: string): Buffer | undefined {
  return base64url.test(part) ? Buffer.from(part, 'base64url') : undefined;
}

/** A compact JWE split in its five parts, its protected header read once. */
export interface CompactJwe {
  header: Record<string, unknown>;
  parts: [string, string, string, string, string];
}

/** The JWE's parts and protected header, or undefined when it is not a compact JWE. */
export function readCompact(jwe: string): CompactJwe | undefined {
  const parts = jwe.split('.');
  if (parts.length !== 5) return undefined;
  const header = readHeader(parts[0]!);
  return header ? { header, parts: parts as CompactJwe['parts'] } : undefined;
}

function readHeader(part: string): Record<string, unknown> | undefined {
  const bytes = decode(part);
  if (!bytes || bytes.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** `len(data) || data`, as Concat KDF's OtherInfo fields are written (RFC 7518 §4.6.2). */
function lengthPrefixed(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

/** The key-encryption key: Concat KDF with SHA-256, one round for 256 bits. */
function concatKdf(secret: Buffer, apu: Buffer, apv: Buffer): Buffer {
  const round = Buffer.from([0, 0, 0, 1]);
  const keyBits = Buffer.from([0, 0, 1, 0]);
  return createHash('sha256')
    .update(round)
    .update(secret)
    .update(lengthPrefixed(Buffer.from(cardKeyAlgorithm, 'ascii')))
    .update(lengthPrefixed(apu))
    .update(lengthPrefixed(apv))
    .update(keyBits)
    .digest();
}

const keyWrapIv = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

/** The plaintext of a compact JWE for `key`, or undefined when it is not one. */
export function decryptCompact(
  { header, parts }: CompactJwe,
  key: CardDecryptionKey,
): Buffer | undefined {
  const [headerPart, wrappedPart, ivPart, ciphertextPart, tagPart] = parts;
  if (header.alg !== cardKeyAlgorithm || header.enc !== cardContentEncryption) return undefined;
  if ('zip' in header || 'crit' in header) return undefined;
  const epk = header.epk as Record<string, unknown> | undefined;
  if (!epk || typeof epk !== 'object' || epk.kty !== key.kty || epk.crv !== key.crv) {
    return undefined;
  }
  const apu = header.apu === undefined ? Buffer.alloc(0) : decode(String(header.apu));
  const apv = header.apv === undefined ? Buffer.alloc(0) : decode(String(header.apv));
  const wrapped = decode(wrappedPart);
  const iv = decode(ivPart);
  const ciphertext = decode(ciphertextPart);
  const tag = decode(tagPart);
  if (!apu || !apv || !wrapped || wrapped.length !== 40 || iv?.length !== 12) return undefined;
  if (!ciphertext || tag?.length !== 16) return undefined;

  let secret: Buffer | undefined;
  let kek: Buffer | undefined;
  let cek: Buffer | undefined;
  try {
    // createPublicKey checks a P-256 point is on the curve.
    const ephemeral = createPublicKey({
      key:
        key.kty === 'EC'
          ? { kty: 'EC', crv: key.crv, x: String(epk.x), y: String(epk.y) }
          : { kty: 'OKP', crv: key.crv, x: String(epk.x) },
      format: 'jwk',
    });
    secret = diffieHellman({ privateKey: key.key, publicKey: ephemeral });
    // A small-order X25519 point gives an all-zero secret (RFC 7748 §6.1): not a key agreement.
    if (secret.every((byte) => byte === 0)) return undefined;
    kek = concatKdf(secret, apu, apv);
    const unwrap = createDecipheriv('id-aes256-wrap', kek, keyWrapIv);
    cek = Buffer.concat([unwrap.update(wrapped), unwrap.final()]);
    if (cek.length !== 32) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', cek, iv, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(headerPart, 'ascii'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    return undefined;
  } finally {
    secret?.fill(0);
    kek?.fill(0);
    cek?.fill(0);
  }
}
