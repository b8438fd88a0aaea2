import { CompactEncrypt, importJWK } from 'jose';
import t from 'tap';
import { encryptCard, paymentKeysSchema } from '@mercado/common/contract';
import { ConfigError } from '@mercado/common/config';
import { loadPaymentsConfig } from '../src/app.js';
import { generateCardKey, loadCardKeyring } from '../src/keys.js';
import { card, cardKeysSetting, fingerprintKey, publicOf, testCards } from './helpers.js';

const baseEnv = {
  DATABASE_URL: 'postgres://payments@127.0.0.1:5432/payments',
  CARD_FINGERPRINT_KEY: fingerprintKey,
};

t.test(
  'a card encrypted with the kit for the announced keys decrypts with the private key, on both curves',
  async (t) => {
    for (const curve of ['X25519', 'P-256'] as const) {
      const key = await generateCardKey(curve);
      t.match(key, { kid: /^card-/, alg: 'ECDH-ES+A256KW', d: String }, `${curve}: a private JWK`);
      const keyring = await loadCardKeyring([key]);
      t.same(keyring.publicKeys, [publicOf(key)], `${curve}: the public half only`);
      t.notOk('d' in keyring.publicKeys[0]!, `${curve}: no private member is announced`);
      t.ok(
        paymentKeysSchema.safeParse({
          type: 'payments.keys',
          keys: keyring.publicKeys,
          at: new Date().toISOString(),
        }).success,
        `${curve}: the announcement fits the contract`,
      );
      const jwe = await encryptCard(card(), { keys: keyring.publicKeys });
      t.equal(jwe.split('.').length, 5, `${curve}: a compact JWE`);
      t.notOk(jwe.includes(testCards.approved), `${curve}: no number in the ciphertext`);
      t.same(
        await keyring.decrypt(jwe),
        { ok: true, card: card(), kid: key.kid },
        `${curve}: decrypted`,
      );
    }
  },
);

t.test(
  'rotation: the first key is announced first, a card for the older key is still accepted',
  async (t) => {
    const older = await generateCardKey();
    const newer = await generateCardKey('P-256');
    const before = await loadCardKeyring([older]);
    const forOlder = await encryptCard(card(), { keys: before.publicKeys });
    const after = await loadCardKeyring([newer, older]);
    t.equal(after.activeKid, newer.kid);
    t.same(
      after.publicKeys.map((key) => key.kid),
      [newer.kid, older.kid],
    );
    t.same(await after.decrypt(forOlder), { ok: true, card: card(), kid: older.kid });
    const forNewer = await encryptCard(card(), { keys: after.publicKeys });
    t.same(await after.decrypt(forNewer), { ok: true, card: card(), kid: newer.kid });
    // Once the old key is retired, its cards are refused, not misread.
    t.same(await (await loadCardKeyring([newer])).decrypt(forOlder), {
      ok: false,
      reason: 'unknown_key',
    });
  },
);

t.test('what is not a card for one of its keys is refused with a stable reason', async (t) => {
  const key = await generateCardKey();
  const keyring = await loadCardKeyring([key]);
  const publicKey = await importJWK(publicOf(key), 'ECDH-ES+A256KW');
  const encrypt = (plaintext: string, header: Record<string, string> = {}) =>
    new CompactEncrypt(new TextEncoder().encode(plaintext))
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', kid: key.kid, ...header })
      .encrypt(publicKey);
  const valid = await encryptCard(card(), { keys: keyring.publicKeys });
  const [header, wrapped, iv, ciphertext, tag] = valid.split('.');
  const protectedHeader = JSON.parse(Buffer.from(header!, 'base64url').toString()) as object;
  /** The valid JWE with its protected header changed (and so re-encoded). */
  const withHeader = (changes: object) =>
    [
      Buffer.from(JSON.stringify({ ...protectedHeader, ...changes })).toString('base64url'),
      wrapped,
      iv,
      ciphertext,
      tag,
    ].join('.');
  const flipped = `${ciphertext!.slice(0, -2)}${ciphertext!.endsWith('AA') ? 'BB' : 'AA'}`;
  const cases: Array<[string, string, string]> = [
    ['not a JWE at all', 'a.b.c.d.e', 'unreadable_card'],
    ['a tampered ciphertext', [header, wrapped, iv, flipped, tag].join('.'), 'unreadable_card'],
    ['a kid payments does not hold', await encrypt('{}', { kid: 'someone-else' }), 'unknown_key'],
    [
      'another content encryption',
      await encrypt(JSON.stringify(card()), { enc: 'A128GCM' }),
      'unreadable_card',
    ],
    [
      'a tag cut short',
      [header, wrapped, iv, ciphertext, tag!.slice(0, -4)].join('.'),
      'unreadable_card',
    ],
    [
      'a wrapped key cut short',
      [header, wrapped!.slice(0, -4), iv, ciphertext, tag].join('.'),
      'unreadable_card',
    ],
    ['a header not base64url', ['*', wrapped, iv, ciphertext, tag].join('.'), 'unreadable_card'],
    [
      'a header re-encoded (the tag authenticates its exact bytes)',
      withHeader({ apu: 'QQ' }),
      'unreadable_card',
    ],
    [
      'an ephemeral key on another curve',
      withHeader({ epk: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' } }),
      'unreadable_card',
    ],
    [
      'an ephemeral key of all zeros',
      withHeader({
        epk: { kty: 'OKP', crv: 'X25519', x: Buffer.alloc(32).toString('base64url') },
      }),
      'unreadable_card',
    ],
    [
      'another key management algorithm',
      await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(card())))
        .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', kid: key.kid })
        .encrypt(publicKey),
      'unreadable_card',
    ],
    ['plaintext that is not JSON', await encrypt('4242424242424242'), 'invalid_card'],
    [
      'a card with a field too many',
      await encrypt(JSON.stringify({ ...card(), pin: '1234' })),
      'invalid_card',
    ],
    [
      'a card without its CVC',
      await encrypt(JSON.stringify({ ...card(), cvc: undefined })),
      'invalid_card',
    ],
  ];
  for (const [name, jwe, reason] of cases) {
    t.same(await keyring.decrypt(jwe), { ok: false, reason }, name);
  }
});

t.test('encryptCard refuses a bad card or key set naming fields, never values', async (t) => {
  const keyring = await loadCardKeyring([await generateCardKey()]);
  await t.rejects(encryptCard(card('4242-4242'), { keys: keyring.publicKeys }), {
    message: 'card refused: number',
  });
  await t.rejects(encryptCard(card(), { keys: [] }), {
    message: 'the key set has no usable first key',
  });
  await t.rejects(encryptCard(card(), { keys: [{ ...keyring.publicKeys[0], alg: 'RSA-OAEP' }] }), {
    message: 'the key set has no usable first key',
  });
});

t.test(
  'PAYMENTS_CARD_KEYS and CARD_FINGERPRINT_KEY are required, and a bad key set is refused without echoing it',
  async (t) => {
    t.throws(() => loadPaymentsConfig({ DATABASE_URL: baseEnv.DATABASE_URL }), {
      message: /PAYMENTS_CARD_KEYS is required.*CARD_FINGERPRINT_KEY is required/,
    });
    const key = await generateCardKey();
    const secretBits = [key.d, 'not-json-secret'];
    const bad: Array<[string, string]> = [
      ['not-json-secret', 'must be a JSON array of private JWKs'],
      ['[]', 'must hold at least one key'],
      [cardKeysSetting(key, key), 'has two keys with the same kid'],
      [JSON.stringify([{ ...key, crv: 'P-384' }]), 'PAYMENTS_CARD_KEYS'],
      [JSON.stringify([{ ...key, d: undefined }]), 'PAYMENTS_CARD_KEYS'],
      [JSON.stringify([{ ...key, kid: undefined }]), 'PAYMENTS_CARD_KEYS'],
      [JSON.stringify([{ ...key, alg: 'ECDH-ES' }]), 'PAYMENTS_CARD_KEYS'],
    ];
    for (const [value, wanted] of bad) {
      try {
        loadPaymentsConfig({ ...baseEnv, PAYMENTS_CARD_KEYS: value });
        t.fail(`accepted ${wanted}`);
      } catch (error) {
        t.type(error, ConfigError);
        const { message } = error as Error;
        t.match(message, wanted);
        for (const bit of secretBits)
          t.notOk(message.includes(bit!), `${wanted}: no secret echoed`);
      }
    }
    t.throws(
      () =>
        loadPaymentsConfig({
          ...baseEnv,
          PAYMENTS_CARD_KEYS: cardKeysSetting(key),
          CARD_FINGERPRINT_KEY: 'short',
        }),
      {
        message: /CARD_FINGERPRINT_KEY must be at least 32 characters/,
      },
    );
    const config = loadPaymentsConfig({ ...baseEnv, PAYMENTS_CARD_KEYS: cardKeysSetting(key) });
    t.same(config.PAYMENTS_CARD_KEYS, [key]);
  },
);
