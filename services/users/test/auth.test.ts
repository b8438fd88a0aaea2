import t from 'tap';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { newSigningKey, startUsers, strongPassword } from './helpers.js';

t.test('a shopper registers, signs in, refreshes and signs out', async (t) => {
  const users = await startUsers(t);
  const registered = await users.call('POST', '/api/auth/register', {
    body: { email: '  Ana.Garcia@Example.COM ', password: strongPassword, name: 'Ana García' },
  });
  t.equal(registered.status, 201);
  t.equal(registered.headers.get('cache-control'), 'no-store');
  t.match(registered.body, {
    user: {
      email: 'ana.garcia@example.com',
      name: 'Ana García',
      roles: ['customer'],
      disabled: false,
    },
    tokenType: 'Bearer',
    expiresIn: 900,
    accessToken: String,
    refreshToken: String,
  });
  t.notOk('passwordHash' in registered.body.user || 'password_hash' in registered.body.user);

  const stored = await users.db('users').where({ email: 'ana.garcia@example.com' }).first();
  t.match(stored.password_hash, /^\$argon2id\$/, 'the password is stored as an argon2id hash');

  // The access token is an EdDSA JWT with a kid that the JWKS publishes.
  const jwks = await users.call('GET', '/api/auth/jwks.json');
  t.equal(jwks.status, 200);
  t.same(
    jwks.body.keys.map((key: { kid: string; alg: string; d?: string }) => [
      key.kid,
      key.alg,
      key.d,
    ]),
    [['key-1', 'EdDSA', undefined]],
  );
  const header = decodeProtectedHeader(registered.body.accessToken);
  t.same(header, { alg: 'EdDSA', kid: 'key-1', typ: 'at+jwt' });
  const { payload } = await jwtVerify(registered.body.accessToken, createLocalJWKSet(jwks.body), {
    issuer: 'mercado',
    audience: 'mercado-api',
  });
  t.equal(payload.sub, registered.body.user.id);
  t.same(payload.roles, ['customer']);
  // iat to the millisecond (revocations compare it), exp in whole seconds, 900 s after iat's second.
  t.equal(Number(payload.exp) - Math.floor(Number(payload.iat)), 900);

  const login = await users.call('POST', '/api/auth/login', {
    body: { email: 'ANA.GARCIA@example.com', password: strongPassword },
  });
  t.equal(login.status, 200);
  t.equal(login.body.user.id, registered.body.user.id);

  const refreshed = await users.call('POST', '/api/auth/refresh', {
    body: { refreshToken: login.body.refreshToken },
  });
  t.equal(refreshed.status, 200);
  t.not(refreshed.body.refreshToken, login.body.refreshToken, 'the refresh token rotates');

  const logout = await users.call('POST', '/api/auth/logout', {
    body: { refreshToken: refreshed.body.refreshToken },
  });
  t.equal(logout.status, 204);
  const afterLogout = await users.call('POST', '/api/auth/refresh', {
    body: { refreshToken: refreshed.body.refreshToken },
  });
  t.equal(afterLogout.status, 401);
  t.equal(afterLogout.body.code, 'invalid_refresh_token');

  // The registration's own sign-in is another family: logging out one leaves the other.
  const other = await users.call('POST', '/api/auth/refresh', {
    body: { refreshToken: registered.body.refreshToken },
  });
  t.equal(other.status, 200);

  const tokens = await users.db('refresh_tokens').select('token_hash');
  for (const row of tokens) {
    t.equal(row.token_hash.length, 32, 'refresh tokens are stored as SHA-256 hashes');
  }
  t.notOk(
    tokens.some(
      (row: { token_hash: Buffer }) =>
        row.token_hash.toString('base64url') === login.body.refreshToken,
    ),
  );
});

t.test(
  'a seller can register as customer and seller at once; admin cannot be self-granted',
  async (t) => {
    const users = await startUsers(t);
    const both = await users.call('POST', '/api/auth/register', {
      body: {
        email: 'tienda@example.com',
        password: strongPassword,
        name: 'Tienda',
        roles: ['customer', 'seller'],
      },
    });
    t.equal(both.status, 201);
    t.same(both.body.user.roles, ['customer', 'seller']);
    const admin = await users.call('POST', '/api/auth/register', {
      body: { email: 'evil@example.com', password: strongPassword, name: 'Evil', roles: ['admin'] },
    });
    t.equal(admin.status, 400);
    t.equal(admin.body.code, 'validation_failed');
    t.equal(await users.db('users').where({ email: 'evil@example.com' }).first(), undefined);
  },
);

t.test('reusing a rotated refresh token revokes the whole family', async (t) => {
  const users = await startUsers(t);
  const session = await users.call('POST', '/api/auth/register', {
    body: { email: 'leak@example.com', password: strongPassword, name: 'Leaky' },
  });
  const first = session.body.refreshToken;
  const second = (await users.call('POST', '/api/auth/refresh', { body: { refreshToken: first } }))
    .body.refreshToken;

  const replay = await users.call('POST', '/api/auth/refresh', { body: { refreshToken: first } });
  t.equal(replay.status, 401);
  t.equal(replay.body.code, 'refresh_token_reused');

  const legit = await users.call('POST', '/api/auth/refresh', { body: { refreshToken: second } });
  t.equal(legit.status, 401, 'the newer token of the family is revoked too');
  t.equal(legit.body.code, 'invalid_refresh_token');
  t.ok(users.logs.lines.some((line) => line.msg === 'refresh token reused; family revoked'));
});

t.test('two concurrent refreshes of one token: one wins, the family is then revoked', async (t) => {
  const users = await startUsers(t);
  const session = await users.call('POST', '/api/auth/register', {
    body: { email: 'race@example.com', password: strongPassword, name: 'Race' },
  });
  const results = await Promise.all(
    [1, 2, 3].map(() =>
      users.call('POST', '/api/auth/refresh', {
        body: { refreshToken: session.body.refreshToken },
      }),
    ),
  );
  t.same(results.map((result) => result.status).sort(), [200, 401, 401]);
  const live = await users
    .db('refresh_tokens')
    .whereNull('revoked_at')
    .whereNull('used_at')
    .count('* as n');
  t.equal(Number(live[0]!.n), 0, 'no usable refresh token is left in the family');
});

t.test('wrong passwords are throttled per account and per address with Retry-After', async (t) => {
  const users = await startUsers(t, {
    LOGIN_MAX_FAILURES_PER_ACCOUNT: '3',
    LOGIN_MAX_FAILURES_PER_IP: '5',
    LOGIN_LOCKOUT_SECONDS: '120',
  });
  await users.call('POST', '/api/auth/register', {
    body: { email: 'target@example.com', password: strongPassword, name: 'Target' },
  });
  const from = (ip: string) => ({ roles: [], ip });
  for (let i = 0; i < 3; i++) {
    const wrong = await users.call('POST', '/api/auth/login', {
      body: { email: 'target@example.com', password: 'not the password' },
      identity: from(`198.51.100.${i}`),
    });
    t.equal(wrong.status, 401);
    t.equal(wrong.body.code, 'invalid_credentials');
  }
  const locked = await users.call('POST', '/api/auth/login', {
    body: { email: 'target@example.com', password: strongPassword },
    identity: from('198.51.100.200'),
  });
  t.equal(locked.status, 429, 'even the right password waits once the account is locked');
  t.equal(locked.body.code, 'login_throttled');
  const retryAfter = Number(locked.headers.get('retry-after'));
  t.ok(retryAfter > 0 && retryAfter <= 120, `Retry-After ${retryAfter}`);

  // Per address: many accounts tried from one address.
  for (let i = 0; i < 5; i++) {
    await users.call('POST', '/api/auth/login', {
      body: { email: `nobody${i}@example.com`, password: 'whatever-wrong' },
      identity: from('192.0.2.50'),
    });
  }
  await users.call('POST', '/api/auth/register', {
    body: { email: 'innocent@example.com', password: strongPassword, name: 'Innocent' },
  });
  const fromBusyAddress = await users.call('POST', '/api/auth/login', {
    body: { email: 'innocent@example.com', password: strongPassword },
    identity: from('192.0.2.50'),
  });
  t.equal(fromBusyAddress.status, 429);
  const elsewhere = await users.call('POST', '/api/auth/login', {
    body: { email: 'innocent@example.com', password: strongPassword },
    identity: from('192.0.2.51'),
  });
  t.equal(elsewhere.status, 200);
});

t.test('signing keys rotate without signing anyone out', async (t) => {
  const oldKey = await newSigningKey('2026-01');
  const newKey = await newSigningKey('2026-02');
  const before = await startUsers(t, {}, [oldKey]);
  const session = await before.call('POST', '/api/auth/register', {
    body: { email: 'rotate@example.com', password: strongPassword, name: 'Rotate' },
  });

  // The rotated deployment: new key active, old key still published.
  const after = await startUsers(t, { JWT_ACTIVE_KID: '2026-02' }, [oldKey, newKey]);
  const jwks = createLocalJWKSet((await after.call('GET', '/api/auth/jwks.json')).body);
  await t.resolves(jwtVerify(session.body.accessToken, jwks), 'an old token still verifies');
  t.equal(after.keys.activeKid, '2026-02');
  const fresh = await after.call('POST', '/api/auth/register', {
    body: { email: 'rotate@example.com', password: strongPassword, name: 'Rotate' },
  });
  t.equal(
    decodeProtectedHeader(fresh.body.accessToken).kid,
    '2026-02',
    'new tokens use the new key',
  );
  await t.resolves(jwtVerify(fresh.body.accessToken, jwks));
});

t.test('no password or token ever reaches the logs', async (t) => {
  const users = await startUsers(t);
  const session = await users.call('POST', '/api/auth/register', {
    body: { email: 'quiet@example.com', password: strongPassword, name: 'Quiet' },
  });
  await users.call('POST', '/api/auth/login', {
    body: { email: 'quiet@example.com', password: 'wrong-password-x' },
  });
  await users.call('POST', '/api/auth/refresh', {
    body: { refreshToken: session.body.refreshToken },
  });
  await users.call('POST', '/api/auth/refresh', {
    body: { refreshToken: session.body.refreshToken },
  });
  users.logs.log.info({ password: strongPassword, body: { refreshToken: 'x' } }, 'careless line');
  const text = users.logs.text();
  t.ok(text.length > 0);
  for (const secret of [
    strongPassword,
    'wrong-password-x',
    session.body.refreshToken,
    session.body.accessToken,
  ]) {
    t.notOk(text.includes(secret), 'a secret is absent from the logs');
  }
  t.ok(text.includes('[redacted]'), 'a careless log line is redacted');
  t.ok(
    users.logs.lines
      .filter((line) => line.msg === 'request')
      .every((line) => typeof line.requestId === 'string'),
    'every request line carries a request id',
  );
});
