import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import {
  call,
  deadUrl,
  expectProblem,
  newKey,
  rawRequest,
  signToken,
  startEcho,
  startGateway,
  manualClock,
  startHanging,
  startJwks,
} from './helpers.js';

type Tap = typeof t;

/** The built entry point, as an operator starts it (the test runner builds before it tests). */
const builtMain = fileURLToPath(new URL('../dist/main.js', import.meta.url));

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A JSON document of about `bytes` bytes. */
function jsonOfSize(bytes: number): string {
  const items = [];
  for (let i = 0; JSON.stringify(items).length < bytes - 60; i++) {
    items.push({ id: `p-${i}`, name: `Product ${i}`, note: 'ñandú ✓' });
  }
  return JSON.stringify({ items });
}

async function jwksUrl(t: Pick<Tap, 'teardown'>): Promise<string> {
  return (await startJwks(t, [await newKey('key-1')])).url;
}

t.test('request bodies stream through untouched, small and large', async (t) => {
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(t, { USERS_URLS: users.url, JWKS_URL: await jwksUrl(t) });

  for (const body of [
    JSON.stringify({ email: 'ann@example.com', password: 'pässwörd' }),
    jsonOfSize(90 * 1024),
  ]) {
    const answer = await gateway.call('/api/auth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body,
    });
    t.equal(answer.status, 200);
    t.match(answer.body, {
      method: 'POST',
      url: '/api/auth/register',
      bytes: Buffer.byteLength(body),
      sha256: sha256(body),
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
      },
    });
  }

  // Chunked (no Content-Length): streamed as it comes, whatever its size.
  const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(10)];
  const chunked = await rawRequest(`${gateway.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    body: chunks,
  });
  t.equal(chunked.status, 200);
  t.match(JSON.parse(chunked.body), {
    bytes: 128 * 1024 + 10,
    sha256: sha256(Buffer.concat(chunks)),
    headers: { 'transfer-encoding': 'chunked' },
  });
});

t.test('a declared body over the limit is 413 and never reaches the service', async (t) => {
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(t, {
    USERS_URLS: users.url,
    JWKS_URL: await jwksUrl(t),
    BODY_LIMIT_BYTES: String(100 * 1024),
  });
  const answer = await gateway.call('/api/auth/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: jsonOfSize(150 * 1024),
  });
  expectProblem(
    t,
    answer,
    413,
    'payload_too_large',
    'The request body is too large',
    '/api/auth/register',
  );
  t.equal(users.seen.length, 0);

  const atLimit = await gateway.call('/api/auth/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: 'x'.repeat(100 * 1024),
  });
  t.equal(atLimit.status, 200, 'exactly the limit is allowed');
});

t.test('the service answer is passed on as it is, status, headers and body', async (t) => {
  const big = 3 * 1024 * 1024;
  // A service that answers /api/products/{status} with that status and a large body for 200.
  const { default: http } = await import('node:http');
  const server = http.createServer((req, res) => {
    const status = Number(req.url!.split('/')[3]);
    if (status === 200) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-service': 'products' });
      res.end(Buffer.alloc(big, 7));
      return;
    }
    res.writeHead(status, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ code: 'not_found', status }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const address = server.address() as { port: number };
  const gateway = await startGateway(t, {
    USERS_URLS: await deadUrl(),
    PRODUCTS_URLS: `http://127.0.0.1:${address.port}`,
  });

  const response = await fetch(`${gateway.url}/api/products/200`);
  t.equal(response.status, 200);
  t.equal(response.headers.get('x-service'), 'products');
  t.equal(sha256(Buffer.from(await response.arrayBuffer())), sha256(Buffer.alloc(big, 7)));

  const missing = await gateway.call('/api/products/404');
  t.equal(missing.status, 404);
  t.equal(missing.headers.get('content-type'), 'application/problem+json');
  t.same(missing.body, { code: 'not_found', status: 404 });

  const broken = await gateway.call('/api/products/500');
  t.same([broken.status, broken.body], [500, { code: 'not_found', status: 500 }]);
});

t.test('a service that refuses connections is 503 upstream_unavailable, at once', async (t) => {
  // "At once": with a timeout far beyond the test's own, an answer at all means no waiting for it.
  const gateway = await startGateway(t, {
    USERS_URLS: await deadUrl(),
    UPSTREAM_TIMEOUT_MS: '600000',
  });
  const answer = await gateway.call('/api/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expectProblem(
    t,
    answer,
    503,
    'upstream_unavailable',
    'The service behind this route is unavailable',
    '/api/auth/login',
  );
  t.match(
    gateway.logs.lines.filter((line) => line.msg === 'upstream request failed'),
    [{ level: 'warn', upstream: 'users', code: 'ECONNREFUSED' }],
    'one attempt, refused',
  );
  t.notOk(JSON.stringify(answer.body).includes('ECONNREFUSED'), 'no upstream detail leaks');
});

t.test('a service that does not answer is 504 upstream_timeout after the timeout', async (t) => {
  const hanging = await startHanging(t);
  const gateway = await startGateway(t, { USERS_URLS: hanging.url, UPSTREAM_TIMEOUT_MS: '300' });
  const answer = await gateway.call('/api/auth/jwks.json');
  expectProblem(
    t,
    answer,
    504,
    'upstream_timeout',
    'The service behind this route did not answer in time',
    '/api/auth/jwks.json',
  );
  t.ok(answer.ms >= 290, `took ${answer.ms.toFixed(0)} ms`);
  t.equal(hanging.requests(), 1, 'a timed-out request is not sent again');
  // The next request must not inherit the dead connection.
  const again = await gateway.call('/api/auth/jwks.json');
  t.equal(again.status, 504);
});

t.test('a client that gives up takes its upstream request down with it', async (t) => {
  const hanging = await startHanging(t);
  const gateway = await startGateway(t, { USERS_URLS: hanging.url, UPSTREAM_TIMEOUT_MS: '60000' });
  const controller = new AbortController();
  const pending = fetch(`${gateway.url}/api/auth/jwks.json`, { signal: controller.signal });
  await hanging.firstRequest;
  controller.abort();
  await t.rejects(pending);
  await hanging.firstClose;
  t.equal(hanging.closed(), 1, 'the upstream connection was closed');
  t.notMatch(
    gateway.logs.text(),
    /upstream request failed/,
    'a client leaving is not an upstream failure',
  );
});

t.test('several URLs of a service are used in turn', async (t) => {
  const a = await startEcho(t, 'a');
  const b = await startEcho(t, 'b');
  const gateway = await startGateway(t, {
    USERS_URLS: `${a.url},${b.url}`,
    JWKS_URL: await jwksUrl(t),
  });
  const served: string[] = [];
  for (let i = 0; i < 6; i++)
    served.push((await gateway.call('/api/auth/jwks.json')).body.upstream);
  t.same(served, ['a', 'b', 'a', 'b', 'a', 'b']);
});

t.test('a URL that refuses connections is skipped during its cooldown', async (t) => {
  const live = await startEcho(t, 'live');
  const gateway = await startGateway(t, {
    USERS_URLS: `${await deadUrl()},${live.url}`,
    JWKS_URL: await jwksUrl(t),
    UPSTREAM_COOLDOWN_MS: '60000',
  });
  const post = () =>
    gateway.call('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"email":"a@example.com"}',
    });
  // A request with a body cannot be sent again once streamed, so the first one, sent to the dead
  // URL, fails; from then on that URL is skipped.
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push((await post()).status);
  t.same(statuses, [503, 200, 200, 200, 200]);
  t.same(
    live.seen.map((seen) => seen.bytes),
    [25, 25, 25, 25],
  );
});

t.test('a bodiless request whose connection is refused is sent to the next URL', async (t) => {
  const live = await startEcho(t, 'live');
  const gateway = await startGateway(t, {
    USERS_URLS: `${await deadUrl()},${live.url}`,
    JWKS_URL: await jwksUrl(t),
    UPSTREAM_COOLDOWN_MS: '60000',
  });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await gateway.call('/api/auth/jwks.json')).status);
  t.same(statuses, [200, 200, 200, 200]);
  t.equal(live.seen.length, 4);
  t.match(gateway.logs.lines, [
    { msg: 'upstream request failed', code: 'ECONNREFUSED', retrying: true },
  ]);
});

t.test(
  'a refused service trips its breaker: the next calls fail fast with Retry-After',
  async (t) => {
    const gateway = await startGateway(t, {
      USERS_URLS: await deadUrl(),
      UPSTREAM_COOLDOWN_MS: '60000',
    });
    const first = await gateway.call('/api/auth/jwks.json');
    t.equal(first.body.code, 'upstream_unavailable');
    const second = await gateway.call('/api/auth/jwks.json');
    t.equal(second.status, 503);
    t.equal(second.body.code, 'circuit_open');
    t.equal(second.headers.get('retry-after'), '60');
    t.equal(
      gateway.logs.lines.filter((line) => line.msg === 'upstream request failed').length,
      1,
      'only the first request went to the dead service',
    );
  },
);

t.test(
  'the breaker opens after failures in a row, lets one trial through, and closes on recovery',
  async (t) => {
    let failing = true;
    let received = 0;
    const server = http.createServer(function flaky(_req, res) {
      received++;
      res.writeHead(failing ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ failing }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const clock = manualClock();
    const gateway = await startGateway(
      t,
      {
        USERS_URLS: url,
        JWKS_URL: await jwksUrl(t),
        UPSTREAM_COOLDOWN_MS: '30000',
        BREAKER_FAILURE_THRESHOLD: '3',
      },
      { clock },
    );
    const get = () => gateway.call('/api/auth/jwks.json');

    for (let i = 0; i < 3; i++)
      t.equal((await get()).status, 503, "the service's own 503 passes through");
    const fast = await get();
    t.equal(fast.body.code, 'circuit_open', 'three failures in a row open the breaker');
    t.equal(fast.headers.get('retry-after'), '30');
    t.equal(received, 3, 'the open breaker sent nothing on');
    clock.advance(29_999);
    t.equal(
      (await get()).body.code,
      'circuit_open',
      'still open a moment before the cooldown ends',
    );
    t.equal(received, 3);

    clock.advance(1);
    t.equal((await get()).status, 503, 'half-open: the trial goes through and fails');
    t.equal(
      (await get()).body.code,
      'circuit_open',
      'a failed trial opens the breaker again at once',
    );
    t.equal(received, 4);

    failing = false;
    clock.advance(30_000);
    const [trial, parallel] = await Promise.all([get(), get()]);
    t.same(
      [trial.status, parallel.status].sort(),
      [200, 503],
      'one trial at a time while half-open; the other fails fast',
    );
    t.equal((await get()).status, 200, 'a successful trial closes the breaker');
    t.equal((await get()).status, 200);
  },
);

t.test('upstream connections are kept alive and reused without piling up listeners', async (t) => {
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(t, { USERS_URLS: users.url, JWKS_URL: await jwksUrl(t) });
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  for (let i = 0; i < 40; i++) t.equal((await gateway.call('/api/auth/jwks.json')).status, 200);
  t.equal(new Set(users.seen.map((seen) => seen.remotePort)).size, 1, 'one upstream connection');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(warnings, []);
});

t.test('X-Request-Id: a sane one is kept and forwarded, otherwise one is made', async (t) => {
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(t, { USERS_URLS: users.url, JWKS_URL: await jwksUrl(t) });
  const given = await gateway.call('/api/auth/jwks.json', {
    headers: { 'x-request-id': 'trace-42' },
  });
  t.equal(given.headers.get('x-request-id'), 'trace-42');
  t.equal(users.seen[0]!.headers['x-request-id'], 'trace-42');

  const made = await gateway.call('/api/auth/jwks.json');
  const id = made.headers.get('x-request-id');
  t.match(id, /^[0-9a-f-]{36}$/);
  t.equal(users.seen[1]!.headers['x-request-id'], id);

  const insane = await gateway.call('/api/auth/jwks.json', { headers: { 'x-request-id': 'a b' } });
  t.not(insane.headers.get('x-request-id'), 'a b');
  t.equal(users.seen[2]!.headers['x-request-id'], insane.headers.get('x-request-id'));
});

t.test('hop-by-hop headers stay on their own connection', async (t) => {
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(t, { USERS_URLS: users.url, JWKS_URL: await jwksUrl(t) });
  const answer = await rawRequest(`${gateway.url}/api/auth/jwks.json`, {
    headers: {
      connection: 'keep-alive, x-hop',
      'x-hop': 'private',
      'keep-alive': 'timeout=1',
      'proxy-authorization': 'Basic c2VjcmV0',
      te: 'trailers',
      expect: '100-continue',
      'x-end-to-end': 'kept',
    },
  });
  const seen = JSON.parse(answer.body) as { headers: Record<string, string> };
  for (const name of ['x-hop', 'keep-alive', 'proxy-authorization', 'te', 'expect']) {
    t.notOk(name in seen.headers, `${name} is not forwarded`);
  }
  t.equal(seen.headers['x-end-to-end'], 'kept');
  t.equal(seen.headers.connection, 'keep-alive', 'the gateway keeps its own connection open');
  t.equal(answer.headers.connection, 'keep-alive');
  t.equal(
    answer.headers['keep-alive'],
    undefined,
    "the service's keep-alive hint is not passed on",
  );
});

t.test('CORS: allowed origins get CORS headers, others get none', async (t) => {
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(t, {
    USERS_URLS: users.url,
    JWKS_URL: await jwksUrl(t),
    CORS_ORIGINS: 'https://shop.example,https://admin.shop.example',
  });
  const allowed = await gateway.call('/api/auth/jwks.json', {
    headers: { origin: 'https://shop.example' },
  });
  t.equal(allowed.headers.get('access-control-allow-origin'), 'https://shop.example');
  t.match(allowed.headers.get('access-control-expose-headers'), /X-Request-Id/);
  t.match(allowed.headers.get('vary'), /Origin/);

  const other = await gateway.call('/api/auth/jwks.json', {
    headers: { origin: 'https://evil.example' },
  });
  t.equal(other.status, 200, 'the browser, not the gateway, enforces CORS');
  t.equal(other.headers.get('access-control-allow-origin'), null);

  const preflight = await gateway.call('/api/users/me', {
    method: 'OPTIONS',
    headers: {
      origin: 'https://admin.shop.example',
      'access-control-request-method': 'PATCH',
      'access-control-request-headers': 'authorization, content-type',
    },
  });
  t.equal(preflight.status, 204);
  t.equal(preflight.headers.get('access-control-allow-origin'), 'https://admin.shop.example');
  t.equal(preflight.headers.get('access-control-allow-methods'), 'GET,HEAD,POST,PUT,PATCH,DELETE');
  t.equal(preflight.headers.get('access-control-allow-headers'), 'authorization, content-type');
  t.equal(users.seen.length, 2, 'preflights are answered by the gateway');

  const closed = await startGateway(t, { USERS_URLS: users.url, JWKS_URL: await jwksUrl(t) });
  const noList = await closed.call('/api/auth/jwks.json', {
    headers: { origin: 'https://shop.example' },
  });
  t.equal(noList.headers.get('access-control-allow-origin'), null, 'no allow-list, no CORS');
});

t.test('security headers suit a JSON API', async (t) => {
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(t, { USERS_URLS: users.url, JWKS_URL: await jwksUrl(t) });
  for (const path of ['/api/auth/jwks.json', '/api/nothing']) {
    const answer = await gateway.call(path);
    t.match(
      Object.fromEntries(answer.headers),
      {
        'content-security-policy': "default-src 'none';frame-ancestors 'none'",
        'x-content-type-options': 'nosniff',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
        'x-frame-options': 'SAMEORIGIN',
        'referrer-policy': 'no-referrer',
        'cross-origin-resource-policy': 'same-origin',
      },
      path,
    );
    t.equal(answer.headers.get('x-powered-by'), null);
  }
});

t.test('/api/health reports every configured service URL', async (t) => {
  const users = await startEcho(t, 'users');
  const productsA = await startEcho(t, 'products-a');
  const productsB = await startEcho(t, 'products-b');
  const healthy = await startGateway(t, {
    USERS_URLS: users.url,
    PRODUCTS_URLS: `${productsA.url},${productsB.url}`,
  });
  const ok = await healthy.call('/api/health');
  t.equal(ok.status, 200);
  t.equal(ok.headers.get('cache-control'), 'no-store');
  t.same(ok.body, {
    status: 'ok',
    gateway: 'ok',
    services: {
      users: { status: 'ok', upstreams: [{ status: 'ok' }] },
      products: { status: 'ok', upstreams: [{ status: 'ok' }, { status: 'ok' }] },
      inventory: { status: 'not_configured' },
      orders: { status: 'not_configured' },
    },
  });

  const hanging = await startHanging(t);
  const degraded = await startGateway(t, {
    USERS_URLS: users.url,
    PRODUCTS_URLS: `${productsA.url},${await deadUrl()}`,
    ORDERS_URLS: hanging.url,
  });
  const down = await degraded.call('/api/health');
  t.equal(down.status, 503);
  t.same(down.body, {
    status: 'unavailable',
    gateway: 'ok',
    services: {
      users: { status: 'ok', upstreams: [{ status: 'ok' }] },
      products: { status: 'degraded', upstreams: [{ status: 'ok' }, { status: 'unreachable' }] },
      inventory: { status: 'not_configured' },
      orders: { status: 'unavailable', upstreams: [{ status: 'timeout' }] },
    },
  });
});

t.test('the gateway itself is ready and live without its services', async (t) => {
  const gateway = await startGateway(t, { USERS_URLS: await deadUrl() });
  t.same((await gateway.call('/health/live')).body, { status: 'ok' });
  t.same((await gateway.call('/health/ready')).body, { status: 'ok', checks: {} });
  const metrics = await call(`${gateway.url}/metrics`);
  t.match(metrics.body, /http_request_duration_seconds/);
});

t.test('metrics label proxied requests by their policy route, not their raw path', async (t) => {
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(t, { USERS_URLS: users.url, JWKS_URL: await jwksUrl(t) });
  await gateway.call('/api/users/u-123', { method: 'PATCH' });
  await gateway.call('/api/auth/jwks.json');
  const metrics = (await call(`${gateway.url}/metrics`)).body as string;
  t.match(metrics, /route="\/api\/users\/:id",status="401"/);
  t.match(metrics, /route="\/api\/auth\/jwks.json",status="200"/);
  t.notMatch(metrics, /u-123/);
});

t.test('the built gateway refuses a bad configuration with one line and exit code 2', async (t) => {
  const child = spawn(process.execPath, [builtMain], {
    env: { PATH: process.env.PATH, USERS_URLS: 'ftp://users' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.equal(await new Promise((resolve) => child.on('close', resolve)), 2);
  t.equal(
    stderr.trim(),
    'invalid configuration: INTERNAL_SECRET is required; USERS_URLS.0 Invalid URL',
  );
});

t.test('the built gateway serves, then stops cleanly on SIGTERM', async (t) => {
  const users = await startEcho(t, 'users');
  const child = spawn(process.execPath, [builtMain], {
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      INTERNAL_SECRET: 'a-secret-for-the-built-gateway-0123456789',
      USERS_URLS: users.url,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const listening = new Promise<string>((resolve) => {
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const complete = buffered.split('\n');
      buffered = complete.pop()!;
      for (const line of complete) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === 'gateway listening') resolve(entry.url as string);
      }
    });
  });
  const url = await listening;
  t.equal((await call(`${url}/api/auth/jwks.json`)).status, 200);
  t.equal(users.seen.length, 1);
  const exited = new Promise((resolve) => child.on('close', resolve));
  child.kill('SIGTERM');
  t.equal(await exited, 0);
  // Compared as a set: the logger may flush its last lines out of order at exit.
  const byMessage = new Map(lines.map((line) => [line.msg, line]));
  t.same([...byMessage.keys()].sort(), [
    'gateway listening',
    'request',
    'shutting down',
    'stopped',
  ]);
  t.match(byMessage.get('gateway listening'), { url, services: { users: 1 } });
  t.match(byMessage.get('request'), { path: '/api/auth/jwks.json', status: 200 });
  t.match(byMessage.get('shutting down'), { reason: 'SIGTERM' });
});

t.test('anonymous public reads are answered from a short-lived micro-cache', async (t) => {
  let served = 0;
  const server = http.createServer(function catalog(req, res) {
    served++;
    const isPrivate = req.url!.includes('private');
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': isPrivate ? 'private, no-cache' : 'public, max-age=30',
      etag: `"v-${req.url}"`,
    });
    res.end(JSON.stringify({ url: req.url, served }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const key = await newKey('cache-key');
  const jwks = await startJwks(t, [key]);
  const clock = manualClock();
  const gateway = await startGateway(
    t,
    { USERS_URLS: url, PRODUCTS_URLS: url, JWKS_URL: jwks.url, CACHE_TTL_MS: '5000' },
    { clock },
  );

  const first = await gateway.call('/api/products?limit=5');
  const second = await gateway.call('/api/products?limit=5');
  t.equal(served, 1, 'the service answered once');
  t.same(second.body, first.body);
  t.equal(first.headers.get('x-cache'), null);
  t.equal(second.headers.get('x-cache'), 'HIT');
  t.equal(second.headers.get('age'), '0');
  t.equal(second.headers.get('cache-control'), 'public, max-age=30');
  t.equal(second.headers.get('x-content-type-options'), 'nosniff', 'security headers on hits too');
  t.not(second.headers.get('x-request-id'), first.headers.get('x-request-id'));

  // node:http, not fetch: fetch adds Cache-Control: no-cache to conditional requests (Fetch
  // standard, HTTP-network-or-cache fetch), which rightly bypasses the cache.
  const revalidated = await rawRequest(`${gateway.url}/api/products?limit=5`, {
    headers: { 'if-none-match': '"v-/api/products?limit=5"' },
  });
  t.equal(revalidated.status, 304);
  t.equal(served, 1);

  await gateway.call('/api/products?limit=6');
  t.equal(served, 2, 'another query string is another entry');

  const fresh = await gateway.call('/api/products?limit=5', {
    headers: { 'cache-control': 'no-cache' },
  });
  t.equal(fresh.headers.get('x-cache'), null);
  t.equal(served, 3, 'a client asking for a fresh answer reaches the service');

  const signedIn = await gateway.call('/api/products?limit=5', {
    headers: { authorization: `Bearer ${await signToken(key)}` },
  });
  t.equal(signedIn.status, 200);
  t.equal(served, 4, 'a request with a token always reaches the service');

  // A guest's cart token speaks for one guest, as a bearer token speaks for one user: even a
  // catalog answer the service marked public is neither served from nor kept in the cache.
  const guest = await gateway.call('/api/products?limit=5', { headers: { 'cart-token': 'g-1' } });
  t.same([guest.headers.get('x-cache'), served], [null, 5], 'a cart token reaches the service');
  await gateway.call('/api/products?limit=7', { headers: { 'cart-token': 'g-1' } });
  await gateway.call('/api/products?limit=7');
  t.equal(served, 7, 'and its answer was not kept for the next anonymous caller');

  await gateway.call('/api/products/private-1');
  await gateway.call('/api/products/private-1');
  t.equal(served, 9, 'a private answer is never kept');

  clock.advance(3_000);
  const older = await gateway.call('/api/products?limit=5');
  t.same([served, older.headers.get('x-cache'), older.headers.get('age')], [9, 'HIT', '3']);
  clock.advance(2_000);
  await gateway.call('/api/products?limit=5');
  t.equal(served, 10, 'entries expire after CACHE_TTL_MS');

  const off = await startGateway(t, {
    USERS_URLS: url,
    PRODUCTS_URLS: url,
    JWKS_URL: jwks.url,
    CACHE_TTL_MS: '0',
  });
  await off.call('/api/products?limit=5');
  await off.call('/api/products?limit=5');
  t.equal(served, 12, 'CACHE_TTL_MS=0 turns the cache off');
});
