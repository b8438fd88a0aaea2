import { compactDecrypt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import t from 'tap';
import {
  cardPublicJwkSchema,
  encryptCard,
  paymentKeysSchema,
  type Card,
} from '../src/contract/index.js';

const card: Card = { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' };

async function keyPair(curve: 'P-256' | 'X25519', kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES+A256KW', {
    crv: curve,
    extractable: true,
  });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ECDH-ES+A256KW', use: 'enc' };
  return { privateKey, publicJwk: cardPublicJwkSchema.parse(jwk) };
}

t.test(
  'encryptCard makes a compact JWE for the first key of the set, which its private key opens',
  async (t) => {
    for (const curve of ['X25519', 'P-256'] as const) {
      const active = await keyPair(curve, `active-${curve}`);
      const older = await keyPair(curve, `older-${curve}`);
      const keys = { keys: [active.publicJwk, older.publicJwk] };
      t.ok(
        paymentKeysSchema.safeParse({
          type: 'payments.keys',
          ...keys,
          at: new Date().toISOString(),
        }).success,
      );
      const jwe = await encryptCard(card, keys);
      t.same(
        { ...decodeProtectedHeader(jwe), epk: undefined },
        { alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: `active-${curve}`, epk: undefined },
        curve,
      );
      const { plaintext } = await compactDecrypt(jwe, active.privateKey);
      t.same(JSON.parse(new TextDecoder().decode(plaintext)), card);
      await t.rejects(compactDecrypt(jwe, older.privateKey), 'not for the other key');
    }
  },
);

t.test(
  'encryptCard refuses what the contract refuses, naming fields and never values',
  async (t) => {
    const { publicJwk } = await keyPair('X25519', 'k');
    await t.rejects(encryptCard({ ...card, cvc: '12' }, { keys: [publicJwk] }), {
      message: 'card refused: cvc',
    });
    await t.rejects(encryptCard({ ...card, number: 'x' }, { keys: [publicJwk] }), {
      message: 'card refused: number',
    });
    for (const keys of [
      [],
      [{ ...publicJwk, alg: 'ECDH-ES' }],
      [{ ...publicJwk, crv: 'X448' }],
      [{ ...publicJwk, use: 'sig' }],
    ]) {
      await t.rejects(encryptCard(card, { keys }), {
        message: 'the key set has no usable first key',
      });
    }
  },
);
