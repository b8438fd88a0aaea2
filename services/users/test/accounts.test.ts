import t from 'tap';
import { expectRefusals, type RefusalCase } from '@mercado/common/testing';
import { createPasswordHasher, ensureAdmin, usersDeps } from '../src/app.js';
import { startUsers, strongPassword, type UsersHarness } from './helpers.js';

async function signUp(users: UsersHarness, email: string, roles?: string[]) {
  const response = await users.call('POST', '/api/auth/register', {
    body: {
      email,
      password: strongPassword,
      name: email.split('@')[0],
      ...(roles ? { roles } : {}),
    },
  });
  return response.body as { user: { id: string; roles: string[] }; refreshToken: string };
}

async function counts(users: UsersHarness) {
  const [u] = await users.db('users').count('* as n');
  const [r] = await users.db('refresh_tokens').count('* as n');
  return { users: Number(u!.n), tokens: Number(r!.n) };
}

t.test('a signed-in user reads and edits their own profile', async (t) => {
  const users = await startUsers(t);
  const me = await signUp(users, 'pablo@example.com');
  const identity = { userId: me.user.id, roles: me.user.roles as never, ip: '203.0.113.1' };

  const read = await users.call('GET', '/api/users/me', { identity });
  t.equal(read.status, 200);
  t.match(read.body, {
    id: me.user.id,
    email: 'pablo@example.com',
    name: 'pablo',
    roles: ['customer'],
  });

  const renamed = await users.call('PATCH', '/api/users/me', {
    identity,
    body: { name: 'Pablo Ruiz' },
  });
  t.equal(renamed.status, 200);
  t.equal(renamed.body.name, 'Pablo Ruiz');

  const wrongCurrent = await users.call('PATCH', '/api/users/me', {
    identity,
    body: { currentPassword: 'not-it-at-all', newPassword: 'a brand new passphrase' },
  });
  t.equal(wrongCurrent.status, 401);
  t.equal(wrongCurrent.body.code, 'invalid_credentials');

  const weak = await users.call('PATCH', '/api/users/me', {
    identity,
    body: { currentPassword: strongPassword, newPassword: 'short' },
  });
  t.equal(weak.status, 400);
  t.same(weak.body.errors, [
    { path: 'body.newPassword', message: 'must be at least 10 characters', code: 'weak_password' },
  ]);

  const changed = await users.call('PATCH', '/api/users/me', {
    identity,
    body: { currentPassword: strongPassword, newPassword: 'a brand new passphrase' },
  });
  t.equal(changed.status, 200);
  const oldSession = await users.call('POST', '/api/auth/refresh', {
    body: { refreshToken: me.refreshToken },
  });
  t.equal(oldSession.status, 401, 'a password change signs out every session');
  const relogin = await users.call('POST', '/api/auth/login', {
    body: { email: 'pablo@example.com', password: 'a brand new passphrase' },
  });
  t.equal(relogin.status, 200);

  const anonymous = await users.call('GET', '/api/users/me');
  t.equal(anonymous.status, 401);
  t.equal(anonymous.body.code, 'unauthorized');
});

t.test('identity headers are accepted only when the gateway signed them', async (t) => {
  const users = await startUsers(t);
  const me = await signUp(users, 'victim@example.com');
  const forged = Buffer.from(
    JSON.stringify({ userId: me.user.id, roles: ['admin'], iat: Math.floor(Date.now() / 1000) }),
  ).toString('base64url');
  const response = await fetch(`${users.url}/api/users`, {
    headers: {
      'x-mercado-identity': forged,
      'x-mercado-identity-signature': 'bm90LWEtc2lnbmF0dXJl',
    },
  });
  t.equal(response.status, 401);
  t.match(await response.json(), { code: 'invalid_identity', status: 401 });
  const unsigned = await fetch(`${users.url}/api/users/me`, {
    headers: { 'x-mercado-identity': forged },
  });
  t.equal(unsigned.status, 401);
});

t.test('an admin lists, searches, changes roles and disables users', async (t) => {
  const users = await startUsers(t);
  const hasher = createPasswordHasher({ memoryKib: 1024, iterations: 1 });
  const deps = usersDeps({ ...users, log: users.logs.log, metrics: undefined as never, hasher });
  const boot = await ensureAdmin(deps, { email: 'Boss@Mercado.Test', password: strongPassword });
  t.same(boot.created, true);
  t.same(
    (await ensureAdmin(deps, { email: 'boss@mercado.test', password: strongPassword })).created,
    false,
  );
  const admin = { userId: boot.userId, roles: ['admin' as const], ip: '203.0.113.9' };

  const people = [];
  for (let i = 0; i < 5; i++) people.push(await signUp(users, `buyer${i}@example.com`));
  const seller = await signUp(users, 'seller@shop.example', ['customer', 'seller']);

  const firstPage = await users.call('GET', '/api/users?limit=3', { identity: admin });
  t.equal(firstPage.status, 200);
  t.same(
    firstPage.body.items.map((user: { email: string }) => user.email),
    ['seller@shop.example', 'buyer4@example.com', 'buyer3@example.com'],
  );
  t.type(firstPage.body.nextCursor, 'string');
  const secondPage = await users.call(
    'GET',
    `/api/users?limit=3&cursor=${firstPage.body.nextCursor}`,
    {
      identity: admin,
    },
  );
  t.same(
    secondPage.body.items.map((user: { email: string }) => user.email),
    ['buyer2@example.com', 'buyer1@example.com', 'buyer0@example.com'],
  );
  const lastPage = await users.call(
    'GET',
    `/api/users?limit=3&cursor=${secondPage.body.nextCursor}`,
    {
      identity: admin,
    },
  );
  t.same(lastPage.body, { items: [lastPage.body.items[0]], nextCursor: null });
  t.equal(lastPage.body.items[0].email, 'boss@mercado.test');

  const search = await users.call('GET', '/api/users?q=SHOP', { identity: admin });
  t.same(
    search.body.items.map((user: { id: string }) => user.id),
    [seller.user.id],
  );
  const sellers = await users.call('GET', '/api/users?role=seller', { identity: admin });
  t.same(
    sellers.body.items.map((user: { id: string }) => user.id),
    [seller.user.id],
  );
  const wildcard = await users.call('GET', `/api/users?q=${encodeURIComponent('%_')}`, {
    identity: admin,
  });
  t.same(wildcard.body.items, [], 'LIKE wildcards in q are matched literally');

  const promoted = await users.call('PATCH', `/api/users/${people[0]!.user.id}`, {
    identity: admin,
    body: { roles: ['customer', 'seller'] },
  });
  t.equal(promoted.status, 200);
  t.same(promoted.body.roles, ['customer', 'seller']);

  const victim = people[1]!;
  const disabled = await users.call('PATCH', `/api/users/${victim.user.id}`, {
    identity: admin,
    body: { disabled: true },
  });
  t.equal(disabled.status, 200);
  t.equal(disabled.body.disabled, true);
  const refresh = await users.call('POST', '/api/auth/refresh', {
    body: { refreshToken: victim.refreshToken },
  });
  t.equal(refresh.status, 401, 'a disabled user can no longer refresh');
  const login = await users.call('POST', '/api/auth/login', {
    body: { email: 'buyer1@example.com', password: strongPassword },
  });
  t.equal(login.status, 403, 'a disabled user can no longer log in');
  t.equal(login.body.code, 'account_disabled');
  const listedDisabled = await users.call('GET', '/api/users?disabled=true', { identity: admin });
  t.same(
    listedDisabled.body.items.map((user: { id: string }) => user.id),
    [victim.user.id],
  );

  const enabled = await users.call('PATCH', `/api/users/${victim.user.id}`, {
    identity: admin,
    body: { disabled: false },
  });
  t.equal(enabled.body.disabled, false);
  t.equal(
    (
      await users.call('POST', '/api/auth/login', {
        body: { email: 'buyer1@example.com', password: strongPassword },
      })
    ).status,
    200,
  );

  const selfDisable = await users.call('PATCH', `/api/users/${boot.userId}`, {
    identity: admin,
    body: { disabled: true },
  });
  t.equal(selfDisable.status, 409);
  t.equal(selfDisable.body.code, 'cannot_modify_self');
  const selfDemote = await users.call('PATCH', `/api/users/${boot.userId}`, {
    identity: admin,
    body: { roles: ['customer'] },
  });
  t.equal(selfDemote.body.code, 'cannot_modify_self');

  const unknown = await users.call('PATCH', '/api/users/00000000-0000-4000-8000-000000000000', {
    identity: admin,
    body: { disabled: true },
  });
  t.equal(unknown.status, 404);

  const asCustomer = await users.call('GET', '/api/users', {
    identity: { userId: people[2]!.user.id, roles: ['customer'] },
  });
  t.equal(asCustomer.status, 403);
  t.equal(asCustomer.body.code, 'forbidden');
});

t.test('bad input gets a 4xx with a stable code and writes nothing', async (t) => {
  const users = await startUsers(t);
  const existing = await signUp(users, 'taken@example.com');
  const admin = { userId: existing.user.id, roles: ['admin' as const] };
  await users
    .db('users')
    .where({ id: existing.user.id })
    .update({ roles: ['customer', 'admin'] });
  const before = await counts(users);

  const cases: RefusalCase[] = [
    {
      name: 'malformed JSON',
      method: 'POST',
      path: '/api/auth/register',
      rawBody: '{"email": "a@b.c",',
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'malformed JSON on login',
      method: 'POST',
      path: '/api/auth/login',
      rawBody: '{nope',
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'malformed JSON on refresh',
      method: 'POST',
      path: '/api/auth/refresh',
      rawBody: '[',
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'malformed JSON on logout',
      method: 'POST',
      path: '/api/auth/logout',
      rawBody: 'nul',
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'not JSON at all',
      method: 'POST',
      path: '/api/auth/register',
      rawBody: 'email=a',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'missing body',
      method: 'POST',
      path: '/api/auth/register',
      status: 400,
      code: 'validation_failed',
      paths: ['body'],
    },
    {
      name: 'missing fields',
      method: 'POST',
      path: '/api/auth/register',
      body: {},
      status: 400,
      code: 'validation_failed',
      paths: ['body.email', 'body.password', 'body.name'],
    },
    {
      name: 'wrong types',
      method: 'POST',
      path: '/api/auth/register',
      body: { email: 42, password: true, name: ['x'] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.email', 'body.password', 'body.name'],
    },
    {
      name: 'unknown fields',
      method: 'POST',
      path: '/api/auth/register',
      body: { email: 'new@example.com', password: strongPassword, name: 'New', isAdmin: true },
      status: 400,
      code: 'validation_failed',
      paths: ['body.isAdmin'],
    },
    {
      name: 'invalid email',
      method: 'POST',
      path: '/api/auth/register',
      body: { email: 'not-an-email', password: strongPassword, name: 'X' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.email'],
    },
    {
      name: 'weak password',
      method: 'POST',
      path: '/api/auth/register',
      body: { email: 'weak@example.com', password: 'password123', name: 'W' },
      status: 400,
      code: 'weak_password',
      paths: ['body.password'],
    },
    {
      name: 'password containing the email',
      method: 'POST',
      path: '/api/auth/register',
      body: { email: 'marisol@example.com', password: 'marisol-is-great', name: 'M' },
      status: 400,
      code: 'weak_password',
      paths: ['body.password'],
    },
    {
      name: 'duplicate email (other case)',
      method: 'POST',
      path: '/api/auth/register',
      body: { email: 'TAKEN@example.com', password: strongPassword, name: 'Dup' },
      status: 409,
      code: 'email_taken',
    },
    {
      name: 'oversized body',
      method: 'POST',
      path: '/api/auth/register',
      body: { email: 'big@example.com', password: strongPassword, name: 'x'.repeat(200 * 1024) },
      status: 413,
      code: 'payload_too_large',
    },
    {
      name: 'login wrong types',
      method: 'POST',
      path: '/api/auth/login',
      body: { email: 1, password: null },
      status: 400,
      code: 'validation_failed',
      paths: ['body.email', 'body.password'],
    },
    {
      name: 'login unknown field',
      method: 'POST',
      path: '/api/auth/login',
      body: { email: 'taken@example.com', password: strongPassword, remember: 1 },
      status: 400,
      code: 'validation_failed',
      paths: ['body.remember'],
    },
    {
      name: 'refresh missing token',
      method: 'POST',
      path: '/api/auth/refresh',
      body: {},
      status: 400,
      code: 'validation_failed',
      paths: ['body.refreshToken'],
    },
    {
      name: 'refresh garbage token',
      method: 'POST',
      path: '/api/auth/refresh',
      body: { refreshToken: 'garbage' },
      status: 401,
      code: 'invalid_refresh_token',
    },
    {
      name: 'logout wrong type',
      method: 'POST',
      path: '/api/auth/logout',
      body: { refreshToken: 5 },
      status: 400,
      code: 'validation_failed',
      paths: ['body.refreshToken'],
    },
    {
      name: 'unknown route',
      method: 'GET',
      path: '/api/auth/nothing-here',
      status: 404,
      code: 'not_found',
    },
    {
      name: 'unknown top route',
      method: 'POST',
      path: '/api/nope',
      body: {},
      status: 404,
      code: 'not_found',
    },
    {
      name: 'wrong method',
      method: 'DELETE',
      path: '/api/users/me',
      status: 405,
      code: 'method_not_allowed',
    },
    {
      name: 'profile unknown field',
      method: 'PATCH',
      path: '/api/users/me',
      body: { email: 'x@y.z' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.email'],
    },
    {
      name: 'profile empty patch',
      method: 'PATCH',
      path: '/api/users/me',
      body: {},
      status: 400,
      code: 'validation_failed',
      paths: ['body'],
    },
    {
      name: 'profile new password without current',
      method: 'PATCH',
      path: '/api/users/me',
      body: { newPassword: 'another long one' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.currentPassword'],
    },
    {
      name: 'admin malformed id',
      method: 'PATCH',
      path: '/api/users/not-a-uuid',
      body: { disabled: true },
      status: 400,
      code: 'validation_failed',
      paths: ['params.id'],
    },
    {
      name: 'admin unknown role',
      method: 'PATCH',
      path: `/api/users/${existing.user.id}`,
      body: { roles: ['superuser'] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.roles.0'],
    },
    {
      name: 'admin wrong type',
      method: 'PATCH',
      path: `/api/users/${existing.user.id}`,
      body: { disabled: 'yes' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.disabled'],
    },
    {
      name: 'list limit too large',
      method: 'GET',
      path: '/api/users?limit=100000',
      status: 400,
      code: 'validation_failed',
      paths: ['query.limit'],
    },
    {
      name: 'list tampered cursor',
      method: 'GET',
      path: '/api/users?cursor=eyJub3BlIjp0cnVlfQ',
      status: 400,
      code: 'validation_failed',
      paths: ['query.cursor'],
    },
    {
      name: 'list unknown parameter',
      method: 'GET',
      path: '/api/users?sort=evil',
      status: 400,
      code: 'validation_failed',
      paths: ['query.sort'],
    },
  ];

  // The admin calls the users API; the auth routes are called anonymously.
  await expectRefusals(
    t,
    users.call,
    cases.map((c) => (c.path.startsWith('/api/users') ? { ...c, identity: admin } : c)),
  );
  t.same(await counts(users), before, 'nothing was written by any bad request');
  const unchanged = await users.db('users').where({ id: existing.user.id }).first();
  t.same(unchanged.roles, ['customer', 'admin']);
  t.equal(unchanged.disabled_at, null);
});

t.test('health, readiness and metrics', async (t) => {
  const users = await startUsers(t);
  const live = await users.call('GET', '/health/live');
  t.same([live.status, live.body], [200, { status: 'ok' }]);
  const ready = await users.call('GET', '/health/ready');
  t.same([ready.status, ready.body], [200, { status: 'ok', checks: { database: 'ok' } }]);
  await signUp(users, 'metric@example.com');
  const metrics = await fetch(`${users.url}/metrics`).then((response) => response.text());
  t.match(
    metrics,
    /http_request_duration_seconds_count\{service="users",method="POST",route="\/api\/auth\/register",status="201"\} 1/,
  );
  t.match(metrics, /db_query_duration_seconds_count\{service="users",outcome="ok"\} \d+/);

  await users.db.destroy();
  const notReady = await users.call('GET', '/health/ready');
  t.same(
    [notReady.status, notReady.body],
    [503, { status: 'unavailable', checks: { database: 'failing' } }],
  );
});
