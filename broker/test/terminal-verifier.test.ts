import t from 'tap';
import { freePort } from '@mercado/common/testing';
import { internalSecret, signUpAdmin, startUsers, type UsersHarness } from '@mercado/users/testing';
import { createTerminalVerifier, terminalVerifyPath } from '../src/terminal-verifier.js';

/** A real users service with one admin and terminal `till-1`; its secret. */
async function registry(t: { teardown(fn: () => unknown): void }) {
  const users = await startUsers(t);
  const admin = await signUpAdmin(users);
  const created = await users.call('POST', '/api/terminals', {
    identity: admin,
    body: { name: 'Till', id: 'till-1' },
  });
  return { users, admin, secret: Buffer.from(created.body.secret as string) };
}

/** The global fetch, counting the requests that go through it. */
function countingFetch() {
  const requests: string[] = [];
  const counted: typeof fetch = (input, init) => {
    requests.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
    return fetch(input, init);
  };
  return { fetch: counted, requests };
}

async function deleteTerminal(users: UsersHarness, admin: { userId: string }, id: string) {
  const answer = await users.call('DELETE', `/api/terminals/${id}`, {
    identity: { userId: admin.userId, roles: ['admin'] },
  });
  return answer.status;
}

t.test('asks the users service, and reuses each answer for the TTL', async (t) => {
  const { users, admin, secret } = await registry(t);
  const { fetch, requests } = countingFetch();
  let clock = 1_000_000;
  const verify = createTerminalVerifier({
    usersUrl: users.url,
    internalSecret,
    cacheTtlMs: 30_000,
    fetch,
    now: () => clock,
  });
  const wrong = Buffer.from(`${secret.toString()}x`);

  t.equal(await verify('till-1', secret), true, 'the right secret');
  t.equal(await verify('till-1', wrong), false, 'a wrong secret');
  t.equal(await verify('till-9', secret), false, 'an unknown terminal');
  t.same(requests, Array(3).fill(`POST ${terminalVerifyPath}`), 'one question each');

  clock += 29_999;
  t.equal(await verify('till-1', secret), true);
  t.equal(await verify('till-1', wrong), false);
  t.equal(await verify('till-9', secret), false);
  t.equal(requests.length, 3, 'within the TTL, yes and no are both answered from the cache');

  t.equal(await deleteTerminal(users, admin, 'till-1'), 204);
  t.equal(await verify('till-1', secret), true, 'a deleted terminal is accepted until its TTL');
  t.equal(requests.length, 3);
  clock += 1;
  t.equal(await verify('till-1', secret), false, 'then refused');
  t.equal(requests.length, 4, 'the expired answer was asked again');
});

t.test('questions on their way are shared, and the cache stays bounded', async (t) => {
  const { users, secret } = await registry(t);
  const { fetch, requests } = countingFetch();
  const verify = createTerminalVerifier({
    usersUrl: [users.url],
    internalSecret,
    maxCacheEntries: 2,
    fetch,
  });
  t.same(
    await Promise.all([verify('till-1', secret), verify('till-1', secret)]),
    [true, true],
    'two terminals connecting at once with the same credentials',
  );
  t.equal(requests.length, 1, 'one question for both');

  await verify('till-2', secret);
  await verify('till-3', secret);
  t.equal(requests.length, 3);
  await verify('till-1', secret);
  t.equal(requests.length, 4, 'the oldest answer made room for newer ones');
  await verify('till-3', secret);
  t.equal(requests.length, 4, 'a recent one is still there');
});

t.test('what cannot be a terminal’s credentials is refused without asking', async (t) => {
  const { fetch, requests } = countingFetch();
  const verify = createTerminalVerifier({
    usersUrl: 'http://127.0.0.1:1',
    internalSecret,
    fetch,
  });
  t.equal(await verify('till-1', Buffer.alloc(0)), false, 'an empty secret');
  t.equal(await verify('till-1', Buffer.alloc(257, 'a')), false, 'a secret over 256 bytes');
  t.equal(await verify('', Buffer.from('secret')), false, 'an empty id');
  t.equal(await verify('t'.repeat(65), Buffer.from('secret')), false, 'an id over 64 characters');
  t.same(requests, []);
});

t.test('a users service that cannot answer makes verification fail, not say no', async (t) => {
  const { users, secret } = await registry(t);

  const down = createTerminalVerifier({
    usersUrl: `http://127.0.0.1:${await freePort()}`,
    internalSecret,
  });
  await t.rejects(down('till-1', secret), { code: 'service_unavailable' }, 'unreachable');

  const { fetch, requests } = countingFetch();
  const misconfigured = createTerminalVerifier({
    usersUrl: users.url,
    internalSecret: `${internalSecret}-not-the-same`,
    fetch,
  });
  await t.rejects(misconfigured('till-1', secret), {
    message: 'the users service answered 401 invalid_identity to a terminal verification',
  });
  await t.rejects(misconfigured('till-1', secret), 'a failure is not cached');
  t.equal(requests.length, 2);

  const logs = users.logs.text();
  t.notOk(logs.includes(secret.toString()), 'the secret never reaches the users log');
});
