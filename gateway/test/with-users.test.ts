import t from 'tap';
import { SignJWT, importJWK, type CryptoKey } from 'jose';
import { internalSecret, newSigningKey, startUsers, strongPassword } from '@mercado/users/testing';
import { bearer, newKey, signToken, startGateway } from './helpers.js';

/**
 * The real users service behind the real gateway: what a browser sees through the one entry point.
 * (The gateway's own tests use stand-in upstreams; the users service's tests call it directly.)
 */
async function startSystem(t: { teardown(fn: () => unknown): void }) {
  const signingKey = await newSigningKey('live-key');
  const users = await startUsers(
    t,
    { LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_LOCKOUT_SECONDS: '60' },
    [signingKey],
  );
  const gateway = await startGateway(t, { USERS_URLS: users.url, INTERNAL_SECRET: internalSecret });
  const json = (body: unknown, headers: Record<string, string> = {}) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const privateKey = (await importJWK(signingKey, 'EdDSA')) as CryptoKey;
  return { users, gateway, json, signingKey: { kid: 'live-key', privateKey } };
}

t.test('a shopper signs up, reads their profile and refreshes through the gateway', async (t) => {
  const { users, gateway, json } = await startSystem(t);
  const signUp = await gateway.call(
    '/api/auth/register',
    json({ email: 'lucia@example.com', password: strongPassword, name: 'Lucía' }),
  );
  t.equal(signUp.status, 201);
  t.match(signUp.headers.get('x-request-id'), /.+/);
  t.equal(signUp.headers.get('x-content-type-options'), 'nosniff', 'security headers are set');

  const me = await gateway.call('/api/users/me', { headers: bearer(signUp.body.accessToken) });
  t.equal(me.status, 200);
  t.same(me.body, signUp.body.user, 'the service saw the identity the gateway verified');

  const renamed = await gateway.call('/api/users/me', {
    method: 'PATCH',
    headers: { ...bearer(signUp.body.accessToken), 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Lucía Pérez' }),
  });
  t.equal(renamed.body.name, 'Lucía Pérez', 'PATCH bodies pass through');

  const refreshed = await gateway.call(
    '/api/auth/refresh',
    json({ refreshToken: signUp.body.refreshToken }),
  );
  t.equal(refreshed.status, 200);
  const logout = await gateway.call(
    '/api/auth/logout',
    json({ refreshToken: refreshed.body.refreshToken }),
  );
  t.equal(logout.status, 204);

  const jwks = await gateway.call('/api/auth/jwks.json');
  t.same(
    jwks.body.keys.map((key: { kid: string }) => key.kid),
    ['live-key'],
  );

  const both = users.logs.text() + gateway.logs.text();
  for (const secret of [
    strongPassword,
    signUp.body.accessToken,
    signUp.body.refreshToken,
    refreshed.body.refreshToken,
  ]) {
    t.notOk(both.includes(secret), 'no password or token in either log');
  }
  const requestId = signUp.headers.get('x-request-id');
  t.ok(
    users.logs.lines.some((line) => line.requestId === requestId),
    'the service logs under the request id the gateway assigned',
  );
});

t.test('tokens that are tampered, expired, unsigned or foreign are refused with 401', async (t) => {
  const { gateway, json, signingKey } = await startSystem(t);
  const session = await gateway.call(
    '/api/auth/register',
    json({ email: 'sec@example.com', password: strongPassword, name: 'Sec' }),
  );
  const token: string = session.body.accessToken;
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());

  const promoted = Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString(
    'base64url',
  );
  const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
  const expired = await new SignJWT({ roles: ['customer'] })
    .setProtectedHeader({ alg: 'EdDSA', kid: signingKey.kid })
    .setSubject(claims.sub)
    .setIssuer('mercado')
    .setAudience('mercado-api')
    .setIssuedAt(Math.floor(Date.now() / 1000) - 3600)
    .setExpirationTime(Math.floor(Date.now() / 1000) - 1800)
    .sign(signingKey.privateKey);
  const foreignKey = await newKey(signingKey.kid);
  const foreign = await signToken(foreignKey, { userId: claims.sub, roles: ['admin'] });
  const foreignKid = await signToken(await newKey('someone-elses'), { userId: claims.sub });

  const cases = {
    'a payload edited to claim admin': `${header}.${promoted}.${signature}`,
    'a flipped signature': `${header}.${payload}.${flipped}`,
    'alg none': none,
    'an expired token': expired,
    'a token signed by a foreign key under our kid': foreign,
    'a token signed by an unknown kid': foreignKid,
    'not a JWT at all': 'definitely-not-a-jwt',
  };
  for (const [name, bad] of Object.entries(cases)) {
    const answer = await gateway.call('/api/users/me', { headers: bearer(bad) });
    t.equal(answer.status, 401, name);
    t.equal(answer.body.code, 'invalid_token', name);
    t.match(answer.headers.get('www-authenticate'), /^Bearer/, name);
  }
  const good = await gateway.call('/api/users/me', { headers: bearer(token) });
  t.equal(good.status, 200, 'the genuine token still works');
});

t.test('a client cannot pose as someone else with identity headers', async (t) => {
  const { users, gateway, json } = await startSystem(t);
  const victim = await gateway.call(
    '/api/auth/register',
    json({ email: 'victim@example.com', password: strongPassword, name: 'Victim' }),
  );
  const attacker = await gateway.call(
    '/api/auth/register',
    json({ email: 'attacker@example.com', password: strongPassword, name: 'Attacker' }),
  );
  // A header pair copied from a genuine gateway request to the victim would be the strongest forgery.
  const forged = {
    'x-mercado-identity': Buffer.from(
      JSON.stringify({
        userId: victim.body.user.id,
        roles: ['admin'],
        iat: Math.floor(Date.now() / 1000),
      }),
    ).toString('base64url'),
    'x-mercado-identity-signature': 'forged',
  };
  const anonymous = await gateway.call('/api/users/me', { headers: forged });
  t.equal(anonymous.status, 401, 'without a token the forged headers count for nothing');
  t.equal(anonymous.body.code, 'unauthorized');
  const asAttacker = await gateway.call('/api/users/me', {
    headers: { ...forged, ...bearer(attacker.body.accessToken) },
  });
  t.equal(asAttacker.status, 200);
  t.equal(
    asAttacker.body.id,
    attacker.body.user.id,
    'the service saw the token holder, not the forged id',
  );
  const adminList = await gateway.call('/api/users', {
    headers: { ...forged, ...bearer(attacker.body.accessToken) },
  });
  t.equal(adminList.status, 403);
  t.equal(adminList.body.code, 'forbidden');
  // What reached the service, by request id (the gateway forwards its own): only the token
  // holder's request, served under the identity the gateway signed.
  const served = users.logs.lines
    .filter((line) => line.msg === 'request' && String(line.path).startsWith('/api/users'))
    .map((line) => [line.requestId, line.method, line.path, line.status]);
  t.same(
    served,
    [[asAttacker.headers.get('x-request-id'), 'GET', '/api/users/me', 200]],
    'the forged requests without a token or the role never reached the service',
  );
});

t.test(
  'an admin disables a user through the gateway; that user can no longer log in or refresh',
  async (t) => {
    const { users, gateway, json } = await startSystem(t);
    const customer = await gateway.call(
      '/api/auth/register',
      json({ email: 'soon-gone@example.com', password: strongPassword, name: 'Soon Gone' }),
    );
    const admin = await gateway.call(
      '/api/auth/register',
      json({ email: 'chief@example.com', password: strongPassword, name: 'Chief' }),
    );
    await users
      .db('users')
      .where({ id: admin.body.user.id })
      .update({ roles: ['customer', 'admin'] });
    const adminSession = await gateway.call(
      '/api/auth/login',
      json({ email: 'chief@example.com', password: strongPassword }),
    );
    const adminAuth = {
      ...bearer(adminSession.body.accessToken),
      'content-type': 'application/json',
    };

    const asCustomer = await gateway.call('/api/users', {
      headers: bearer(customer.body.accessToken),
    });
    t.equal(asCustomer.status, 403, 'wrong role → 403');
    const noToken = await gateway.call('/api/users');
    t.equal(noToken.status, 401, 'no token → 401');

    const listed = await gateway.call('/api/users?q=soon', { headers: adminAuth });
    t.same(
      listed.body.items.map((user: { id: string }) => user.id),
      [customer.body.user.id],
    );
    const disabled = await gateway.call(`/api/users/${customer.body.user.id}`, {
      method: 'PATCH',
      headers: adminAuth,
      body: JSON.stringify({ disabled: true }),
    });
    t.equal(disabled.status, 200);
    t.equal(disabled.body.disabled, true);

    const refresh = await gateway.call(
      '/api/auth/refresh',
      json({ refreshToken: customer.body.refreshToken }),
    );
    t.equal(refresh.status, 401);
    const login = await gateway.call(
      '/api/auth/login',
      json({ email: 'soon-gone@example.com', password: strongPassword }),
    );
    t.equal(login.status, 403);
    t.equal(login.body.code, 'account_disabled');
  },
);

t.test('login throttling counts the client address the gateway saw', async (t) => {
  const { gateway, json } = await startSystem(t);
  await gateway.call(
    '/api/auth/register',
    json({ email: 'locked@example.com', password: strongPassword, name: 'L' }),
  );
  for (let i = 0; i < 3; i++) {
    const wrong = await gateway.call(
      '/api/auth/login',
      json({ email: 'locked@example.com', password: 'nope-nope-nope' }),
    );
    t.equal(wrong.status, 401);
  }
  const throttled = await gateway.call(
    '/api/auth/login',
    json({ email: 'locked@example.com', password: strongPassword }),
  );
  t.equal(throttled.status, 429);
  t.equal(throttled.body.code, 'login_throttled');
  t.ok(Number(throttled.headers.get('retry-after')) > 0);
});
