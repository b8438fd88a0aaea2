import t from 'tap';
import {
  createRevocationLedger,
  maxAccessTokenLifetimeSeconds,
  revocationListResponseSchema,
} from '@mercado/common/contract';

const alice = '0b6f3c5e-8d2a-4f7e-9c1b-2a3d4e5f6a7b';
const bob = '1c7a4d6f-9e3b-4a8f-8d2c-3b4e5f6a7b8c';

t.test('a revocation refuses the tokens issued at or before it, and only those', async (t) => {
  const ledger = createRevocationLedger();
  t.equal(ledger.revoke(alice, 1_000), true);
  t.equal(ledger.isRevoked(alice, 999), true, 'issued before');
  t.equal(ledger.isRevoked(alice, 1_000), true, 'issued at the instant');
  t.equal(ledger.isRevoked(alice, 1_001), false, 'issued after: a fresh sign-in');
  t.equal(ledger.isRevoked(bob, 0), false, 'another account');
  t.equal(ledger.revoke(alice, 500), false, 'an older revocation changes nothing');
  t.equal(ledger.isRevoked(alice, 999), true);
  t.equal(ledger.revoke(alice, 2_000), true, 'a later one moves the instant');
  t.equal(ledger.isRevoked(alice, 1_500), true);
});

t.test('a fetched list adds what was missed and names the accounts learnt from it', async (t) => {
  const ledger = createRevocationLedger();
  ledger.revoke(alice, Date.parse('2026-01-01T10:00:00.000Z'));
  const list = revocationListResponseSchema.parse({
    accounts: [
      { userId: alice, revokedBefore: '2026-01-01T10:00:00.000Z' },
      { userId: bob, revokedBefore: '2026-01-01T11:00:00.000Z' },
    ],
  });
  t.same(ledger.apply(list), [bob]);
  t.equal(ledger.size, 2);
  t.equal(ledger.isRevoked(bob, Date.parse('2026-01-01T10:59:59.000Z')), true);
});

t.test('entries are forgotten once no token issued before them can be valid', async (t) => {
  const ledger = createRevocationLedger();
  const lifetimeMs = maxAccessTokenLifetimeSeconds * 1_000;
  ledger.revoke(alice, 10_000);
  ledger.revoke(bob, 20_000);
  ledger.forgetExpired(10_000 + lifetimeMs);
  t.equal(ledger.size, 2, 'a token issued at the instant may still be valid');
  ledger.forgetExpired(15_000 + lifetimeMs);
  t.equal(ledger.size, 1);
  t.equal(ledger.isRevoked(alice, 5_000), false, 'forgotten: such a token has expired anyway');
  t.equal(ledger.isRevoked(bob, 5_000), true);
});

t.test('the list refuses what is not an account id and an instant', async (t) => {
  t.notOk(revocationListResponseSchema.safeParse({ accounts: [{ userId: 'x' }] }).success);
  t.notOk(
    revocationListResponseSchema.safeParse({
      accounts: [{ userId: alice, revokedBefore: 'yesterday' }],
    }).success,
  );
});
