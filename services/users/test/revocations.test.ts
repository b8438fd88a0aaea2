import t from 'tap';
import { decodeJwt } from 'jose';
import { type Identity } from '@mercado/common/identity';
import { withTransaction } from '@mercado/common/db';
import { revokeAccountTokens } from '../src/domain/revocations.js';
import { signUpAdmin, startUsers, strongPassword, type UsersHarness } from './helpers.js';

/**
 * What the users service does when an account or a terminal loses its credentials: the revocation
 * instant stored on the account, the announcement queued in the outbox in the same transaction,
 * the list the gateway and the broker fetch, and tokens issued around a revocation.
 */

async function signUp(users: UsersHarness, email: string, roles: string[] = ['customer']) {
  const answer = await users.call('POST', '/api/auth/register', {
    body: { email, password: strongPassword, name: 'Someone', roles },
  });
  return answer.body as { accessToken: string; user: { id: string } };
}

const outbox = (users: UsersHarness) =>
  users.db('outbox').select('topic', 'payload').orderBy('id') as Promise<
    Array<{ topic: string; payload: Record<string, unknown> }>
  >;

const asService = (service: string): Identity => ({ roles: [], service });

t.test('disabling or taking a role away revokes the tokens issued until then', async (t) => {
  const users = await startUsers(t);
  const admin = await signUpAdmin(users);
  const seller = await signUp(users, 'seller@example.com', ['customer', 'seller']);
  const change = (body: object) =>
    users.call('PATCH', `/api/users/${seller.user.id}`, { identity: admin, body });

  t.equal((await change({ name: 'Renamed' })).status, 200);
  t.equal((await change({ roles: ['customer', 'seller', 'admin'] })).status, 200);
  t.same(await outbox(users), [], 'a new name or a role more revokes nothing');

  t.equal((await change({ roles: ['customer'] })).status, 200);
  t.equal((await change({ disabled: true })).status, 200);
  const events = await outbox(users);
  t.match(events, [
    {
      topic: 'users/revocations',
      payload: { type: 'account.tokens_revoked', userId: seller.user.id, reason: 'roles_changed' },
    },
    {
      topic: 'users/revocations',
      payload: { type: 'account.tokens_revoked', userId: seller.user.id, reason: 'disabled' },
    },
  ]);
  const [row] = await users
    .db('users')
    .where({ id: seller.user.id })
    .select('tokens_revoked_before');
  const revokedBefore = (row as { tokens_revoked_before: Date }).tokens_revoked_before;
  t.equal(
    events[1]!.payload.revokedBefore,
    revokedBefore.toISOString(),
    'the announcement carries the stored instant',
  );
  const issuedAt = Number(decodeJwt(seller.accessToken).iat) * 1_000;
  t.ok(issuedAt <= revokedBefore.getTime(), 'the token issued before is caught by it');

  const listed = await users.call('GET', '/internal/revocations', {
    identity: asService('gateway'),
  });
  t.equal(listed.status, 200);
  t.same(listed.body, {
    accounts: [{ userId: seller.user.id, revokedBefore: revokedBefore.toISOString() }],
  });
  t.equal(
    (await users.call('GET', '/internal/revocations', { identity: asService('broker') })).status,
    200,
  );
  for (const [who, identity] of [
    ['another service', asService('products')],
    ['an admin', admin],
  ] as const) {
    const refused = await users.call('GET', '/internal/revocations', { identity });
    t.ok([401, 403].includes(refused.status), `refused to ${who}`);
  }
});

t.test('rotating a secret or deleting a terminal is announced', async (t) => {
  const users = await startUsers(t);
  const admin = await signUpAdmin(users);
  await users.call('POST', '/api/terminals', {
    identity: admin,
    body: { name: 'Till', id: 'till-1' },
  });
  await users.call('POST', '/api/terminals/till-1/secret', { identity: admin });
  await users.call('DELETE', '/api/terminals/till-1', { identity: admin });
  t.equal((await users.call('DELETE', '/api/terminals/till-1', { identity: admin })).status, 404);
  t.match(await outbox(users), [
    {
      payload: {
        type: 'terminal.credentials_revoked',
        terminalId: 'till-1',
        reason: 'secret_rotated',
      },
    },
    { payload: { type: 'terminal.credentials_revoked', terminalId: 'till-1', reason: 'deleted' } },
  ]);
  t.equal((await outbox(users)).length, 2, 'a deletion that found nothing announced nothing');
});

t.test('a token issued while the account is being demoted carries the new roles', async (t) => {
  const users = await startUsers(t);
  const seller = await signUp(users, 'racing@example.com', ['customer', 'seller']);
  const blockedOnLock = () =>
    users.db
      .raw(
        "select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()",
      )
      .then((result: { rows: Array<{ n: number }> }) => result.rows[0]!.n > 0);

  let login: Promise<{ status: number; body: { accessToken: string } }> | undefined;
  let revokedBefore: Date | undefined;
  // An admin's change, held open at its most awkward point: roles changed and tokens revoked,
  // not yet committed, while the seller signs in.
  await withTransaction(users.db, async (trx) => {
    await trx('users').where({ id: seller.user.id }).forUpdate().first();
    await trx('users')
      .where({ id: seller.user.id })
      .update({ roles: ['customer'] });
    await revokeAccountTokens(trx, seller.user.id, 'roles_changed');
    login = users.call('POST', '/api/auth/login', {
      body: { email: 'racing@example.com', password: strongPassword },
    });
    for (let waited = 0; !(await blockedOnLock()); waited++) {
      if (waited > 1_000) throw new Error('the login never waited for the change');
      await new Promise((resolve) => setImmediate(resolve));
    }
    const [row] = await trx('users').where({ id: seller.user.id }).select('tokens_revoked_before');
    revokedBefore = (row as { tokens_revoked_before: Date }).tokens_revoked_before;
  });
  const session = await login!;
  t.equal(session.status, 200);
  const claims = decodeJwt(session.body.accessToken);
  t.same(claims.roles, ['customer'], 'the sign-in waited for the change and saw its roles');
  t.ok(
    Number(claims.iat) * 1_000 > revokedBefore!.getTime(),
    'and its token, issued after the revocation, is not caught by it',
  );
});
