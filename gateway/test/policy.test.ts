import t from 'tap';
import { SignJWT, base64url } from 'jose';
import { ConfigError } from '@mercado/common/config';
import { signIdentity, verifyIdentity } from '@mercado/common/identity';
import { startTestRedis } from '@mercado/common/testing';
import { compilePolicy, loadGatewayConfig, policy } from '../src/app.js';
import type { CompiledRoute, RouteMatch } from '../src/policy.js';
import {
  bearer,
  deadUrl,
  expectProblem,
  internalSecret,
  logged,
  manualClock,
  newKey,
  problem,
  signToken,
  startEcho,
  startGateway,
  startJwks,
} from './helpers.js';

const routes = compilePolicy();

function access(match: RouteMatch): unknown {
  return match && 'access' in match ? (match as CompiledRoute).access : match;
}

t.test('the policy table has an entry for every route of the public API', async (t) => {
  const publicApi: Array<[string, string]> = [
    ['POST', '/api/auth/register'],
    ['POST', '/api/auth/login'],
    ['POST', '/api/auth/refresh'],
    ['POST', '/api/auth/logout'],
    ['GET', '/api/auth/jwks.json'],
    ['GET', '/api/users/me'],
    ['PATCH', '/api/users/me'],
    ['GET', '/api/users'],
    ['PATCH', '/api/users/u-1'],
    ['GET', '/api/products'],
    ['GET', '/api/products/p-1'],
    ['GET', '/api/categories'],
    ['POST', '/api/products'],
    ['PATCH', '/api/products/p-1'],
    ['DELETE', '/api/products/p-1'],
    ['GET', '/api/inventory/p-1'],
    ['PUT', '/api/inventory/p-1/eu-west'],
    ['GET', '/api/inventory/low-stock'],
    ['GET', '/api/cart'],
    ['PATCH', '/api/cart'],
    ['POST', '/api/cart/items'],
    ['PATCH', '/api/cart/items/p-1'],
    ['DELETE', '/api/cart/items/p-1'],
    ['POST', '/api/orders'],
    ['GET', '/api/orders'],
    ['GET', '/api/orders/sold'],
    ['GET', '/api/orders/o-1'],
    ['POST', '/api/orders/o-1/cancel'],
    ['POST', '/api/orders/o-1/ship'],
    ['POST', '/api/orders/o-1/deliver'],
    ['POST', '/api/orders/o-1/refund'],
    ['POST', '/api/orders/o-1/payments'],
    ['GET', '/api/payments/keys.json'],
    ['GET', '/api/terminals'],
    ['POST', '/api/terminals'],
    ['DELETE', '/api/terminals/t-1'],
    ['GET', '/api/health'],
    ['GET', '/api/docs'],
  ];
  const unmatched = publicApi.filter(([method, path]) => {
    const match = routes.match(method, path);
    return match === undefined || 'allow' in match;
  });
  t.same(unmatched, []);
  t.equal(
    policy.length,
    publicApi.length + 5,
    'plus category upkeep (POST, PATCH, DELETE), terminal secret rotation and the document itself (/api/openapi.json)',
  );
});

t.test('the policy decides who may call what', async (t) => {
  t.equal(access(routes.match('POST', '/api/auth/login')), 'public');
  t.equal(access(routes.match('POST', '/api/auth/logout')), 'public');
  t.equal(access(routes.match('GET', '/api/users/me')), 'authenticated');
  t.same(access(routes.match('GET', '/api/users')), ['admin']);
  t.same(access(routes.match('PATCH', '/api/users/u-1')), ['admin']);
  t.equal(access(routes.match('GET', '/api/products/p-1')), 'public');
  t.same(access(routes.match('DELETE', '/api/products/p-1')), ['seller', 'admin']);
  t.same(access(routes.match('PUT', '/api/inventory/p-1/eu')), ['seller', 'admin']);
  t.equal(access(routes.match('DELETE', '/api/cart/items/p-1')), 'public');
  t.equal(access(routes.match('POST', '/api/orders/o-1/cancel')), 'authenticated');
  t.same(access(routes.match('POST', '/api/orders/o-1/refund')), ['seller', 'admin']);
  t.same(access(routes.match('DELETE', '/api/terminals/t-1')), ['admin']);
  t.same(access(routes.match('POST', '/api/terminals/t-1/secret')), ['admin']);
  t.equal((routes.match('GET', '/api/terminals') as CompiledRoute).owner, 'users');
});

t.test(
  'literal paths outrank parameters, HEAD follows GET, one trailing slash is fine',
  async (t) => {
    t.equal(access(routes.match('PATCH', '/api/users/me')), 'authenticated');
    t.same(access(routes.match('PATCH', '/api/users/someone')), ['admin']);
    t.same(access(routes.match('GET', '/api/inventory/low-stock')), ['seller', 'admin']);
    t.equal(access(routes.match('GET', '/api/inventory/p-1')), 'public');
    t.same(access(routes.match('GET', '/api/orders/sold')), ['seller', 'admin']);
    t.equal(access(routes.match('GET', '/api/orders/o-1')), 'authenticated');
    t.equal(access(routes.match('HEAD', '/api/products')), 'public');
    t.equal(access(routes.match('GET', '/api/products/')), 'public');
    t.same(routes.match('DELETE', '/api/users/me'), { allow: 'GET, HEAD, PATCH' });
    t.same(routes.match('POST', '/api/products/p-1'), { allow: 'DELETE, GET, HEAD, PATCH' });
    t.same(routes.match('PUT', '/api/health'), { allow: 'GET, HEAD' });
    t.equal(routes.match('GET', '/api/products/..'), undefined, 'no climbing out of a route');
    t.equal(routes.match('GET', '/api/products/p-1/extra'), undefined);
    t.equal(routes.match('GET', '/api/products//'), undefined);
    t.equal(routes.match('GET', '/api/nothing'), undefined);
    t.equal(routes.match('GET', '/api/users/me/'), routes.match('GET', '/api/users/me'));
    t.equal((routes.match('POST', '/api/orders/o-1/payments') as CompiledRoute).owner, 'gateway');
    t.equal((routes.match('POST', '/api/orders/o-1/cancel') as CompiledRoute).owner, 'orders');
  },
);

t.test('a policy with a repeated or unroutable entry is refused at startup', async (t) => {
  t.throws(
    () =>
      compilePolicy([
        { method: 'GET', path: '/api/products', access: 'public' },
        { method: 'GET', path: '/api/products', access: ['admin'] },
      ]),
    /policy lists GET \/api\/products twice/,
  );
  t.throws(
    () => compilePolicy([{ method: 'GET', path: '/api/elsewhere', access: 'public' }]),
    /no owner for \/api\/elsewhere/,
  );
});

t.test('configuration: required settings, defaults, derived values and refusals', async (t) => {
  const missing = t.throws(() => loadGatewayConfig({})) as unknown as ConfigError;
  t.ok(missing instanceof ConfigError);
  t.same(missing.settings, ['INTERNAL_SECRET is required', 'USERS_URLS is required']);

  const config = loadGatewayConfig({
    INTERNAL_SECRET: internalSecret,
    USERS_URLS: 'http://users-1:3001/ , http://users-2:3001',
    ORDERS_URLS: 'http://orders:3004',
    // Payments is reached over MQTT only: a URL for it is no upstream.
    PAYMENTS_URLS: 'http://payments:3005',
  });
  t.match(config, {
    HOST: '127.0.0.1',
    PORT: 8080,
    LOG_LEVEL: 'info',
    BODY_LIMIT_BYTES: 102_400,
    JWKS_URL: 'http://users-1:3001/api/auth/jwks.json',
    jwksFromUsers: true,
    JWT_ISSUER: 'mercado',
    JWT_AUDIENCE: 'mercado-api',
    UPSTREAM_TIMEOUT_MS: 10_000,
    UPSTREAM_COOLDOWN_MS: 5_000,
    CORS_ORIGINS: [],
    TRUST_PROXY: 'loopback',
  });
  t.same(config.upstreams, {
    users: ['http://users-1:3001', 'http://users-2:3001'],
    orders: ['http://orders:3004'],
  });
  t.ok(Object.isFrozen(config));

  const base = { INTERNAL_SECRET: internalSecret, USERS_URLS: 'http://users:3001' };
  t.equal(loadGatewayConfig({ ...base, TRUST_PROXY: '2' }).TRUST_PROXY, 2);
  t.equal(loadGatewayConfig({ ...base, TRUST_PROXY: 'false' }).TRUST_PROXY, false);
  t.equal(
    loadGatewayConfig({ ...base, TRUST_PROXY: '10.0.0.0/8, loopback' }).TRUST_PROXY,
    '10.0.0.0/8, loopback',
  );
  t.same(loadGatewayConfig({ ...base, CORS_ORIGINS: 'https://shop.example' }).CORS_ORIGINS, [
    'https://shop.example',
  ]);
  const explicit = loadGatewayConfig({ ...base, JWKS_URL: 'http://keys:9000/jwks.json' });
  t.equal(explicit.JWKS_URL, 'http://keys:9000/jwks.json');
  t.equal(explicit.jwksFromUsers, false);

  const refused = t.throws(() =>
    loadGatewayConfig({
      INTERNAL_SECRET: 'short',
      USERS_URLS: 'https://users:3001',
      PRODUCTS_URLS: 'http://products:3002/api',
      CORS_ORIGINS: 'https://shop.example/path',
      TRUST_PROXY: 'everyone',
    }),
  ) as unknown as ConfigError;
  t.same(
    refused.settings.map((problem) => problem.split(' ')[0]),
    ['INTERNAL_SECRET', 'USERS_URLS', 'PRODUCTS_URLS', 'CORS_ORIGINS', 'TRUST_PROXY'],
  );
});

type Tap = typeof t;

/** A gateway in front of an echo "users service" and a JWKS holding one key. */
async function setup(
  t: Pick<Tap, 'teardown'>,
  env: Record<string, string> = {},
  options: Parameters<typeof startGateway>[2] = {},
) {
  const key = await newKey('key-1');
  const jwks = await startJwks(t, [key]);
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(
    t,
    { USERS_URLS: users.url, JWKS_URL: jwks.url, ...env },
    options,
  );
  return { key, jwks, users, gateway };
}

const invalidTokenTitle = 'The access token is invalid or expired';

t.test('a public route serves anonymous callers, as an anonymous signed identity', async (t) => {
  const { users, gateway } = await setup(t);
  const answer = await gateway.call('/api/auth/jwks.json');
  t.equal(answer.status, 200);
  t.equal(users.seen.length, 1);
  t.same(verifyIdentity(users.seen[0]!.headers, internalSecret), { roles: [], ip: '127.0.0.1' });
});

t.test(
  'a signed-in route without a token is 401 unauthorized with a Bearer challenge',
  async (t) => {
    const { users, gateway } = await setup(t);
    const answer = await gateway.call('/api/users/me');
    expectProblem(t, answer, 401, 'unauthorized', 'Authentication is required', '/api/users/me');
    t.equal(answer.headers.get('www-authenticate'), 'Bearer realm="mercado"');
    t.equal(users.seen.length, 0);
  },
);

t.test('roles decide: a customer gets 403 on an admin route, an admin passes', async (t) => {
  const { key, users, gateway } = await setup(t);
  const customer = await signToken(key, { userId: 'c-1', roles: ['customer'] });
  const admin = await signToken(key, { userId: 'a-1', roles: ['admin'] });

  const denied = await gateway.call('/api/users', { headers: bearer(customer) });
  expectProblem(t, denied, 403, 'forbidden', 'Your roles do not allow this', '/api/users');
  t.match(denied.headers.get('www-authenticate'), /error="insufficient_scope"/);

  const me = await gateway.call('/api/users/me', { headers: bearer(customer) });
  t.equal(me.status, 200, 'any signed-in caller may read their own profile');

  const allowed = await gateway.call('/api/users?q=ann', { headers: bearer(admin) });
  t.equal(allowed.status, 200);
  t.equal(allowed.body.url, '/api/users?q=ann', 'path and query travel unchanged');
  t.same(verifyIdentity(allowed.body.headers, internalSecret), {
    userId: 'a-1',
    roles: ['admin'],
    ip: '127.0.0.1',
  });
  t.same(
    users.seen.map((seen) => seen.url),
    ['/api/users/me', '/api/users?q=ann'],
  );
});

t.test('unknown roles in a token are ignored rather than passed on', async (t) => {
  const { key, gateway } = await setup(t);
  const token = await signToken(key, { roles: ['customer', 'superuser'] });
  const answer = await gateway.call('/api/users/me', { headers: bearer(token) });
  t.same(verifyIdentity(answer.body.headers, internalSecret)?.roles, ['customer']);
  const notAList = await signToken(key, { roles: 'admin' });
  const refused = await gateway.call('/api/users/me', { headers: bearer(notAList) });
  t.equal(refused.status, 401);
});

t.test('bad tokens are 401 invalid_token whatever is wrong with them', async (t) => {
  const { key, users, gateway } = await setup(t);
  const valid = await signToken(key, { roles: ['customer'] });
  const [header, payload, signature] = valid.split('.') as [string, string, string];
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as object;
  const elevated = base64url.encode(JSON.stringify({ ...claims, roles: ['admin'] }));
  const unsignedHeader = base64url.encode(JSON.stringify({ alg: 'none', kid: 'key-1' }));
  const impostorSameKid = await newKey('key-1');
  const impostorOtherKid = await newKey('key-2');
  const now = Math.floor(Date.now() / 1000);

  const tokens: Record<string, string> = {
    tampered: `${header}.${elevated}.${signature}`,
    expired: await signToken(key, { expiresIn: now - 60 }),
    'alg none': `${unsignedHeader}.${elevated}.`,
    // The classic confusion: an HMAC "signed" with the public key's bytes.
    'HS256 with the public key': await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'key-1' })
      .setSubject('user-1')
      .setIssuer('mercado')
      .setAudience('mercado-api')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(String(key.publicJwk.x))),
    'foreign key, same kid': await signToken(impostorSameKid),
    'foreign key, unknown kid': await signToken(impostorOtherKid),
    'wrong issuer': await signToken(key, { issuer: 'someone-else' }),
    'wrong audience': await signToken(key, { audience: 'another-api' }),
    'not a JWT': 'not-a-jwt',
  };
  for (const [name, token] of Object.entries(tokens)) {
    const answer = await gateway.call('/api/users/me', { headers: bearer(token) });
    t.equal(answer.status, 401, name);
    t.same(
      answer.body,
      {
        ...problem(401, 'invalid_token', invalidTokenTitle, '/api/users/me'),
        requestId: answer.headers.get('x-request-id'),
      },
      name,
    );
    t.equal(
      answer.headers.get('www-authenticate'),
      'Bearer realm="mercado", error="invalid_token"',
      name,
    );
  }
  const basic = await gateway.call('/api/users/me', {
    headers: { authorization: 'Basic dXNlcjpwYXNz' },
  });
  t.equal(basic.status, 401, 'another scheme is no bearer token');
  t.equal(users.seen.length, 0, 'none of them reached the service');
});

t.test(
  'on a public route a bad token is still refused, and a valid one identifies the caller',
  async (t) => {
    const { key, users, gateway } = await setup(t);
    const refused = await gateway.call('/api/auth/logout', {
      method: 'POST',
      headers: bearer('garbage.token.here'),
    });
    t.equal(refused.status, 401);
    t.equal(refused.body.code, 'invalid_token');

    const token = await signToken(key, { userId: 'u-7', roles: ['seller'] });
    const answer = await gateway.call('/api/auth/logout', {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: 'r' }),
    });
    t.equal(answer.status, 200);
    t.same(verifyIdentity(users.seen[0]!.headers, internalSecret), {
      userId: 'u-7',
      roles: ['seller'],
      ip: '127.0.0.1',
    });
  },
);

t.test(
  'a client cannot pose as someone: its x-mercado-* headers never reach a service',
  async (t) => {
    const { key, users, gateway } = await setup(t);
    // Even a correctly signed identity (a leaked secret, a replayed header) is replaced.
    const forged = signIdentity({ userId: 'admin-1', roles: ['admin'] }, internalSecret);
    const token = await signToken(key, { userId: 'c-1', roles: ['customer'] });

    const answer = await gateway.call('/api/users/me', {
      headers: { ...forged, ...bearer(token), 'x-mercado-extra': 'yes' },
    });
    t.equal(answer.status, 200);
    const seen = users.seen[0]!.headers;
    t.same(verifyIdentity(seen, internalSecret), {
      userId: 'c-1',
      roles: ['customer'],
      ip: '127.0.0.1',
    });
    t.not(seen['x-mercado-identity'], forged['x-mercado-identity']);
    t.same(
      Object.keys(seen)
        .filter((name) => name.startsWith('x-mercado-'))
        .sort(),
      ['x-mercado-identity', 'x-mercado-identity-signature'],
    );

    const anonymousPublic = await gateway.call('/api/auth/jwks.json', {
      headers: { ...forged, 'X-Mercado-Identity-Signature': 'nope' },
    });
    t.equal(anonymousPublic.status, 200);
    t.same(verifyIdentity(users.seen[1]!.headers, internalSecret), { roles: [], ip: '127.0.0.1' });
  },
);

t.test(
  'the client address comes from X-Forwarded-For only when the peer is a trusted proxy',
  async (t) => {
    const trusting = await setup(t);
    const answer = await trusting.gateway.call('/api/auth/jwks.json', {
      headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' },
    });
    t.same(verifyIdentity(answer.body.headers, internalSecret), { roles: [], ip: '203.0.113.7' });
    t.equal(answer.body.headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    t.equal(answer.body.headers['x-forwarded-proto'], 'https');

    const strict = await setup(t, { TRUST_PROXY: 'false' });
    const spoofed = await strict.gateway.call('/api/auth/jwks.json', {
      headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' },
    });
    t.same(verifyIdentity(spoofed.body.headers, internalSecret), { roles: [], ip: '127.0.0.1' });
    t.equal(spoofed.body.headers['x-forwarded-proto'], 'http');
  },
);

t.test('a new signing key is picked up from the JWKS without logging anyone out', async (t) => {
  const { key, jwks, gateway } = await setup(t);
  const before = await signToken(key, { userId: 'early' });
  t.equal((await gateway.call('/api/users/me', { headers: bearer(before) })).status, 200);
  t.equal(jwks.fetches(), 1);

  const next = await newKey('key-2');
  jwks.keys.push(next);
  const rotated = await signToken(next, { userId: 'late' });
  const answer = await gateway.call('/api/users/me', { headers: bearer(rotated) });
  t.equal(answer.status, 200, 'the unknown kid made the gateway fetch the keys again');
  t.equal(verifyIdentity(answer.body.headers, internalSecret)?.userId, 'late');
  t.equal(jwks.fetches(), 2);

  const oldKeyNewToken = await signToken(key, { userId: 'still-here' });
  t.equal(
    (await gateway.call('/api/users/me', { headers: bearer(oldKeyNewToken) })).status,
    200,
    'tokens of the old key verify while it is published',
  );
});

t.test(
  'a withdrawn key stops verifying at the next refresh; until then cached keys serve',
  async (t) => {
    const clock = manualClock();
    const { key, jwks, gateway } = await setup(t, { JWKS_MAX_AGE_MS: '60000' }, { clock });
    t.equal(
      (await gateway.call('/api/users/me', { headers: bearer(await signToken(key)) })).status,
      200,
    );
    jwks.keys.splice(0, 1, await newKey('key-2'));
    clock.advance(59_999);
    const early = await signToken(key, { userId: 'before-refresh' });
    t.equal(
      (await gateway.call('/api/users/me', { headers: bearer(early) })).status,
      200,
      'the kid is known, so nothing is refetched before the keys are due',
    );
    t.equal(jwks.fetches(), 1);
    clock.advance(1);
    const due = await signToken(key, { userId: 'when-due' });
    t.equal(
      (await gateway.call('/api/users/me', { headers: bearer(due) })).status,
      200,
      'the refresh runs in the background; this request is served from the keys at hand',
    );
    t.match(await logged(gateway.logs, 'JWKS refreshed'), { level: 'debug', keys: 1 });
    t.equal(jwks.fetches(), 2);
    const after = await signToken(key, { userId: 'after-refresh' });
    t.equal((await gateway.call('/api/users/me', { headers: bearer(after) })).status, 401);
  },
);

t.test(
  'when the keys cannot be fetched a token gets 503, and anonymous calls still work',
  async (t) => {
    const key = await newKey('key-1');
    const users = await startEcho(t, 'users');
    const gateway = await startGateway(t, { USERS_URLS: users.url, JWKS_URL: await deadUrl() });
    const token = await signToken(key);
    const answer = await gateway.call('/api/users/me', { headers: bearer(token) });
    expectProblem(
      t,
      answer,
      503,
      'service_unavailable',
      'A service this request needs is unavailable',
      '/api/users/me',
    );
    t.equal((await gateway.call('/api/auth/jwks.json')).status, 200);
    t.match(gateway.logs.lines, [{ level: 'warn', msg: 'token keys unavailable' }]);
  },
);

t.test('by default the keys come from the users service itself', async (t) => {
  const key = await newKey('key-1');
  const jwks = await startJwks(t, [key]);
  const usersOrigin = new URL(jwks.url).origin;
  const gateway = await startGateway(t, { USERS_URLS: `${await deadUrl()},${usersOrigin}` });
  t.equal(gateway.config.jwksFromUsers, true);
  const token = await signToken(key);
  // The first users URL refuses; the keys are fetched from the next one, and the request (a GET,
  // so safe to send again) goes there too.
  const answer = await gateway.call('/api/users/me', { headers: bearer(token) });
  t.equal(answer.status, 200);
  t.equal(jwks.fetches(), 2, 'the keys once, then the request itself');
});

t.test('unknown routes are 404, other methods 405 with Allow, missing services 503', async (t) => {
  const { gateway } = await setup(t);
  expectProblem(
    t,
    await gateway.call('/api/nothing/here'),
    404,
    'not_found',
    'Nothing is here',
    '/api/nothing/here',
  );
  expectProblem(
    t,
    await gateway.call('/elsewhere'),
    404,
    'not_found',
    'Nothing is here',
    '/elsewhere',
  );

  const wrongMethod = await gateway.call('/api/users/me', { method: 'DELETE' });
  expectProblem(
    t,
    wrongMethod,
    405,
    'method_not_allowed',
    'This method is not allowed on this resource',
    '/api/users/me',
  );
  t.equal(wrongMethod.headers.get('allow'), 'GET, HEAD, PATCH');

  const terminals = await gateway.call('/api/terminals');
  t.equal(terminals.status, 401, 'the policy is checked before the service is looked up');
  for (const path of ['/api/products', '/api/inventory/p-1', '/api/cart']) {
    const answer = await gateway.call(path);
    expectProblem(
      t,
      answer,
      503,
      'service_unavailable',
      'A service this request needs is unavailable',
      path,
    );
  }
});

t.test('paying an order is answered by the gateway, not forwarded with card data', async (t) => {
  const { key, gateway } = await setup(t, { ORDERS_URLS: (await startEcho(t, 'orders')).url });
  const token = await signToken(key);
  const answer = await gateway.call('/api/orders/o-1/payments', {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: JSON.stringify({ card: { number: '4242424242424242' } }),
  });
  t.equal(answer.status, 503);
  t.equal(answer.body.code, 'service_unavailable');
});

t.test('tokens and signed identities never reach the logs', async (t) => {
  const { key, users, gateway } = await setup(t);
  const token = await signToken(key, { roles: ['admin'] });
  await gateway.call('/api/users', { headers: bearer(token) });
  await gateway.call('/api/users/me', { headers: bearer(`${token}x`) });
  await gateway.call('/api/nothing', { headers: bearer(token) });
  const expired = await signToken(key, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
  await gateway.call('/api/users/me', { headers: bearer(expired) });

  const text = gateway.logs.text();
  t.ok(gateway.logs.lines.length >= 4, 'the requests were logged');
  for (const secret of [token, token.split('.')[2]!, expired.split('.')[2]!]) {
    t.notOk(text.includes(secret), 'no token in the logs');
  }
  t.notOk(text.includes(String(users.seen[0]!.headers['x-mercado-identity-signature'])));
  t.notOk(text.includes(internalSecret));
});

t.test(
  'each client address gets its own request budget, with RateLimit-* headers and a 429',
  async (t) => {
    const { users, gateway } = await setup(t, {
      RATE_LIMIT_PER_IP: '3',
      RATE_LIMIT_PER_USER: '0',
      RATE_LIMIT_WINDOW_MS: '60000',
    });
    const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });
    const remaining: Array<string | null> = [];
    for (let i = 0; i < 3; i++) {
      const answer = await gateway.call('/api/auth/jwks.json', from('198.51.100.1'));
      t.equal(answer.status, 200);
      t.equal(answer.headers.get('ratelimit-limit'), '3');
      remaining.push(answer.headers.get('ratelimit-remaining'));
    }
    t.same(remaining, ['2', '1', '0']);
    const over = await gateway.call('/api/auth/jwks.json', from('198.51.100.1'));
    expectProblem(
      t,
      over,
      429,
      'rate_limited',
      'Too many requests; slow down',
      '/api/auth/jwks.json',
    );
    const retryAfter = Number(over.headers.get('retry-after'));
    t.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    t.equal(users.seen.length, 3, 'the limited request never reached the service');

    const other = await gateway.call('/api/auth/jwks.json', from('198.51.100.2'));
    t.equal(other.status, 200, 'another address has its own budget');
  },
);

t.test('each signed-in user gets a budget of their own, wherever they call from', async (t) => {
  const { key, gateway } = await setup(t, { RATE_LIMIT_PER_IP: '0', RATE_LIMIT_PER_USER: '2' });
  const ana = bearer(await signToken(key, { userId: 'ana' }));
  const ben = bearer(await signToken(key, { userId: 'ben' }));
  const statuses = [];
  for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) {
    const answer = await gateway.call('/api/users/me', {
      headers: { ...ana, 'x-forwarded-for': ip },
    });
    statuses.push(answer.status);
  }
  t.same(statuses, [200, 200, 429], 'changing address does not reset a user budget');
  t.equal((await gateway.call('/api/users/me', { headers: ben })).status, 200);
  t.equal(
    (await gateway.call('/api/auth/jwks.json')).status,
    200,
    'anonymous calls are not per-user limited',
  );
});

t.test(
  'replicas sharing a Redis spend one budget; while Redis is down requests go through',
  async (t) => {
    const redis = await startTestRedis(t);
    const key = await newKey('key-1');
    const jwks = await startJwks(t, [key]);
    const users = await startEcho(t, 'users');
    const env = {
      USERS_URLS: users.url,
      JWKS_URL: jwks.url,
      RATE_LIMIT_PER_IP: '4',
      RATE_LIMIT_PER_USER: '2',
      RATE_LIMIT_REDIS_URL: redis.url,
    };
    const one = await startGateway(t, env);
    const two = await startGateway(t, env);
    const from = (ip: string, extra: Record<string, string> = {}) => ({
      headers: { 'x-forwarded-for': ip, ...extra },
    });

    const answers = [];
    for (const gateway of [one, two, one, two, one, two]) {
      answers.push(await gateway.call('/api/auth/jwks.json', from('198.51.100.9')));
    }
    t.same(
      answers.map((answer) => [answer.status, answer.headers.get('ratelimit-remaining')]),
      [
        [200, '3'],
        [200, '2'],
        [200, '1'],
        [200, '0'],
        [429, '0'],
        [429, '0'],
      ],
      'one address, one budget across both replicas',
    );
    t.ok(Number(answers[5]!.headers.get('retry-after')) >= 1);

    const ana = bearer(await signToken(key, { userId: 'ana' }));
    const userStatuses = [];
    for (const [gateway, ip] of [
      [one, '192.0.2.11'],
      [two, '192.0.2.12'],
      [one, '192.0.2.13'],
    ] as const) {
      userStatuses.push((await gateway.call('/api/users/me', from(ip, ana))).status);
    }
    t.same(userStatuses, [200, 200, 429], 'one user, one budget across both replicas');

    await redis.stop();
    const during = [];
    for (let i = 0; i < 6; i++) {
      during.push((await one.call('/api/auth/jwks.json', from('198.51.100.10'))).status);
    }
    t.same(during, [200, 200, 200, 200, 200, 200], 'the shop stays open without its limiter');
    const metrics = (await one.call('/metrics')).body as string;
    t.match(
      metrics,
      /^rate_limit_store_errors_total\{[^}]*\} [1-9]/m,
      'skipped counts are counted',
    );
    t.match(one.logs.text(), /rate-limit store unavailable/, 'the outage is logged');

    await redis.start();
    await logged(one.logs, 'rate-limit store reachable again');
    const after = [];
    for (let i = 0; i < 5; i++) {
      after.push((await one.call('/api/auth/jwks.json', from('198.51.100.11'))).status);
    }
    t.same(after, [200, 200, 200, 200, 429], 'limits apply again once Redis is back');
  },
);

t.test('limits set to 0 are off', async (t) => {
  const { gateway } = await setup(t, { RATE_LIMIT_PER_IP: '0', RATE_LIMIT_PER_USER: '0' });
  for (let i = 0; i < 5; i++) {
    const answer = await gateway.call('/api/auth/jwks.json');
    t.equal(answer.status, 200);
    t.equal(answer.headers.get('ratelimit-limit'), null);
  }
});
