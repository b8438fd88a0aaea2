import { Router } from 'express';
import t from 'tap';
import { z } from 'zod';
import { ConfigError, loadConfig, setting } from '@mercado/common/config';
import {
  ApiRouter,
  buildHttpApp,
  handleShutdown,
  listen,
  createServiceClient,
  createCursorCodec,
} from '@mercado/common/http';
import { createMetrics } from '@mercado/common/metrics';
import { signIdentity, verifyIdentity, identityFromGateway } from '@mercado/common/identity';
import { runWithContext } from '@mercado/common/log';
import { captureLogs } from '@mercado/common/testing';

t.test('configuration names every missing or malformed setting in one line', async (t) => {
  const shape = {
    PORT: setting.port(8080),
    DATABASE_URL: setting.url(),
    API_SECRET: setting.secret(32),
    DEBUG: setting.bool(false),
    UPSTREAMS: setting.urls(),
  };
  const error = (() => {
    try {
      loadConfig(shape, {
        PORT: 'eighty',
        API_SECRET: 'short',
        DEBUG: 'maybe',
        UPSTREAMS: 'http://a, ftp://b',
      });
    } catch (e) {
      return e;
    }
  })() as ConfigError;
  t.type(error, ConfigError);
  t.notMatch(error.message, /\n/, 'one line');
  t.match(error.message, /^invalid configuration: /);
  for (const key of [
    'PORT',
    'DATABASE_URL is required',
    'API_SECRET must be at least 32 characters',
    'DEBUG',
    'UPSTREAMS',
  ]) {
    t.match(error.message, key);
  }
  t.notMatch(error.message, /short/, 'a bad secret is named, never echoed');

  const config = loadConfig(shape, {
    DATABASE_URL: 'postgres://u:p@db:5432/x',
    API_SECRET: 's'.repeat(32),
    DEBUG: 'yes',
    UPSTREAMS: 'http://a:1, http://b:2',
  });
  t.same(config, {
    PORT: 8080,
    DATABASE_URL: 'postgres://u:p@db:5432/x',
    API_SECRET: 's'.repeat(32),
    DEBUG: true,
    UPSTREAMS: ['http://a:1', 'http://b:2'],
  });
  t.ok(Object.isFrozen(config));
  t.throws(
    () => loadConfig({ API_SECRET: setting.secret() }, { API_SECRET: '' }),
    /API_SECRET is required/,
    'empty counts as unset',
  );
});

t.test('regions: a list of URL-safe names, at least one, none twice', async (t) => {
  const shape = { REGIONS: setting.regions(['north', 'south']) };
  t.same(loadConfig(shape, {}).REGIONS, ['north', 'south'], 'the default');
  t.same(loadConfig(shape, { REGIONS: ' eu-west , islands ' }).REGIONS, ['eu-west', 'islands']);
  for (const [value, problem] of [
    ['North', /lower-case letters, digits and dashes/],
    ['north,1south', /lower-case letters, digits and dashes/],
    [`r${'x'.repeat(32)}`, /lower-case letters, digits and dashes/],
    ['north,north', /must not repeat a region/],
    [' , ', /REGIONS/],
  ] as const) {
    t.throws(() => loadConfig(shape, { REGIONS: value }), problem, `${JSON.stringify(value)}`);
  }
});

t.test('logs are JSON with the request id on every line and secrets redacted', async (t) => {
  const { log, lines } = captureLogs('kit');
  const app = buildHttpApp({
    name: 'kit',
    log,
    metrics: createMetrics('kit'),
    bodyLimitBytes: 1024,
    routes(app) {
      app.post('/echo', (req, res) => {
        log.info(
          { body: req.body, headers: { authorization: req.headers.authorization } },
          'handler saw',
        );
        res.json({ ok: true });
      });
      app.get('/boom', () => {
        throw new Error('database password is hunter2');
      });
      const mounted = Router();
      mounted.get('/thing', (_req, res) => {
        res.json({ ok: true });
      });
      app.use('/api/mounted', mounted);
    },
  });
  const server = await listen(app);
  t.teardown(() => server.close(100));

  const response = await fetch(`${server.url}/echo`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: 'Bearer eyJsecret.token.value',
      'x-request-id': 'req-42',
    },
    body: JSON.stringify({
      password: 'hunter2',
      refreshToken: 'rt-secret',
      card: { number: '4242424242424242', cvc: '123' },
      cardNumber: '4000',
      note: 'visible',
    }),
  });
  t.equal(response.headers.get('x-request-id'), 'req-42');
  const boom = await fetch(`${server.url}/boom`, {
    headers: { 'x-request-id': 'bad id with spaces' },
  });
  t.equal(boom.status, 500);
  const problem = (await boom.json()) as Record<string, any>;
  t.same(Object.keys(problem).sort(), ['code', 'instance', 'requestId', 'status', 'title', 'type']);
  t.equal(problem.code, 'internal');
  t.notMatch(
    JSON.stringify(problem),
    /hunter2|at .*\.ts/,
    'no message or stack reaches the client',
  );
  t.match(problem.requestId, /^[0-9a-f-]{36}$/, 'an unacceptable request id is replaced');
  t.equal(boom.headers.get('x-request-id'), problem.requestId);

  const all = JSON.stringify(lines);
  // Each needle is the secret as JSON would write it, so it can occur: `"hunter2"` is the body's
  // password as a value, which the 500's message ("… is hunter2") never produces.
  for (const secret of [
    '"hunter2"',
    'rt-secret',
    '4242424242424242',
    '"123"',
    'eyJsecret',
    '4000',
  ]) {
    t.notOk(all.includes(secret), `${secret} is not logged`);
  }
  t.ok(all.includes('visible'));
  const handlerLine = lines.find((line) => line.msg === 'handler saw')!;
  t.equal(
    handlerLine.requestId,
    'req-42',
    'a line written deep in a handler carries the request id',
  );
  t.equal(handlerLine.level, 'info');
  await fetch(`${server.url}/api/mounted/thing?secret=no`);
  const requestLines = lines.filter((line) => line.msg === 'request');
  t.same(
    requestLines.map((line) => line.path),
    ['/echo', '/boom', '/api/mounted/thing'],
    'the full path, without the query string, even under a mounted router',
  );
  t.ok(requestLines.every((line) => typeof line.requestId === 'string'));
  const errorLine = lines.find((line) => line.msg === 'unhandled error')!;
  t.equal(errorLine.requestId, problem.requestId, 'the 500 is logged in full under its request id');
});

t.test(
  'signed identity: genuine accepted; tampered, unsigned, stale or foreign rejected',
  async (t) => {
    const secret = 'x'.repeat(40);
    const headers = signIdentity({ userId: 'u1', roles: ['seller'], ip: '10.0.0.1' }, secret);
    t.same(verifyIdentity(headers, secret), { userId: 'u1', roles: ['seller'], ip: '10.0.0.1' });
    t.equal(verifyIdentity({}, secret), null, 'absent headers mean anonymous');
    t.throws(() => verifyIdentity(headers, 'y'.repeat(40)), { code: 'invalid_identity' });
    const payload = JSON.parse(Buffer.from(headers['x-mercado-identity']!, 'base64url').toString());
    const promoted = Buffer.from(JSON.stringify({ ...payload, roles: ['admin'] })).toString(
      'base64url',
    );
    t.throws(() => verifyIdentity({ ...headers, 'x-mercado-identity': promoted }, secret), {
      code: 'invalid_identity',
    });
    t.throws(
      () => verifyIdentity({ 'x-mercado-identity': headers['x-mercado-identity'] }, secret),
      { code: 'invalid_identity' },
    );
    const old = signIdentity({ roles: [] }, secret, Date.now() - 5 * 60_000);
    t.throws(() => verifyIdentity(old, secret), { code: 'invalid_identity' });
  },
);

t.test(
  'graceful shutdown: readiness fails at once, in-flight requests finish, then each step in order',
  async (t) => {
    const { log } = captureLogs('kit');
    let shuttingDown = () => false;
    let release: () => void = () => {};
    let entered: () => void = () => {};
    const slowEntered = new Promise<void>((resolve) => (entered = resolve));
    const app = buildHttpApp({
      name: 'kit',
      log,
      metrics: createMetrics('kit'),
      bodyLimitBytes: 1024,
      isShuttingDown: () => shuttingDown(),
      routes(app) {
        app.get('/slow', async (_req, res) => {
          entered();
          await new Promise<void>((resolve) => (release = resolve));
          res.json({ finished: true });
        });
      },
    });
    const server = await listen(app);
    const steps: string[] = [];
    let exitCode: number | undefined;
    // A background task (a consumer, a relay) stops before the server closes, as
    // runDatabaseService orders them; the test says when it is done.
    let backgroundStopped: () => void = () => {};
    const background = new Promise<void>((resolve) => (backgroundStopped = resolve));
    const control = handleShutdown({
      log,
      deadlineMs: 5000,
      signals: [],
      exit: (code) => (exitCode = code),
      steps: [
        { name: 'background', run: () => background.then(() => steps.push('background')) },
        { name: 'http', run: () => server.close(5000).then(() => steps.push('http')) },
        { name: 'database', run: async () => steps.push('database') },
      ],
    });
    shuttingDown = control.shuttingDown;
    const ready = async () => {
      const response = await fetch(`${server.url}/health/ready`);
      return [response.status, await response.json()];
    };

    const inFlight = fetch(`${server.url}/slow`).then((response) => response.json());
    await slowEntered;
    t.same(await ready(), [200, { status: 'ok', checks: {} }]);
    const stopping = control.shutdown('test');
    t.ok(control.shuttingDown());
    t.same(
      await ready(),
      [503, { status: 'unavailable', checks: { shutdown: 'in progress' } }],
      'readiness fails as soon as the shutdown begins, while the server still answers',
    );
    t.same(steps, [], 'no step has finished yet');

    backgroundStopped();
    // The http step has begun once new connections are refused.
    for (;;) {
      const refused = await fetch(`${server.url}/health/live`).then(
        () => false,
        () => true,
      );
      if (refused) break;
    }
    t.same(steps, ['background'], 'the server waits for the in-flight request');
    release();
    t.same(await inFlight, { finished: true });
    await stopping;
    t.same(steps, ['background', 'http', 'database']);
    t.equal(exitCode, 0);
  },
);

t.test(
  'a shutdown that overruns its deadline is cut short, logged, with exit code 1',
  async (t) => {
    const { log, lines } = captureLogs('kit');
    const steps: string[] = [];
    // The stuck step holds nothing open; this keeps the test process alive while the deadline runs.
    const keepAlive = setInterval(() => {}, 1_000);
    t.teardown(() => clearInterval(keepAlive));
    const exitCode = await new Promise<number>((resolve) => {
      const control = handleShutdown({
        log,
        deadlineMs: 0,
        signals: [],
        exit: resolve,
        steps: [
          { name: 'stuck', run: () => new Promise(() => {}) },
          { name: 'after', run: async () => steps.push('after') },
        ],
      });
      void control.shutdown('test');
    });
    t.equal(exitCode, 1);
    t.match(
      lines.find((line) => line.msg === 'shutdown deadline passed; exiting'),
      { level: 'error', deadlineMs: 0 },
    );
    t.same(steps, [], 'the steps after the stuck one never ran');
    t.notOk(
      lines.some((line) => line.msg === 'stopped'),
      'it did not stop cleanly',
    );
  },
);

t.test(
  'services call each other with a signed service identity; internal routes require it',
  async (t) => {
    const { log } = captureLogs('kit');
    const secret = 'z'.repeat(40);
    const app = buildHttpApp({
      name: 'callee',
      log,
      metrics: createMetrics('callee'),
      bodyLimitBytes: 1024,
      routes(app) {
        app.use(identityFromGateway(secret));
        const internal = new ApiRouter('/internal', 'internal').route(
          {
            method: 'post',
            path: '/echo',
            summary: 'Echo',
            access: { services: ['orders'] },
            body: z.strictObject({ a: z.number().optional() }),
            responses: { 201: { description: 'The echo' } },
          },
          function echo({ identity, body }, req, res) {
            res.status(201).json({ service: identity.service, body, requestId: req.id });
          },
        );
        app.use(internal.basePath, internal.router);
      },
    });
    const server = await listen(app);
    t.teardown(() => server.close(100));
    const dead = await listen(
      buildHttpApp({ name: 'x', log, metrics: createMetrics('x'), bodyLimitBytes: 1, routes() {} }),
    );
    const deadUrl = dead.url;
    await dead.close(10);

    const orders = createServiceClient({
      caller: 'orders',
      baseUrls: [deadUrl, server.url],
      internalSecret: secret,
    });
    const answer = await runWithContext({ requestId: 'req-7' }, () =>
      orders.request('POST', '/internal/echo', { a: 1 }),
    );
    t.same(
      answer,
      { status: 201, body: { service: 'orders', body: { a: 1 }, requestId: 'req-7' } },
      'a refused URL is skipped',
    );

    const stranger = createServiceClient({
      caller: 'payments',
      baseUrls: [server.url],
      internalSecret: secret,
    });
    t.equal(
      (await stranger.request('POST', '/internal/echo', {})).status,
      403,
      'another service is refused',
    );
    const browser = await fetch(`${server.url}/internal/echo`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...signIdentity({ userId: 'u', roles: ['admin'] }, secret),
      },
      body: '{}',
    });
    t.equal(browser.status, 401, 'a user, even an admin, is not a service');
    const forged = createServiceClient({
      caller: 'orders',
      baseUrls: [server.url],
      internalSecret: 'w'.repeat(40),
    });
    t.equal((await forged.request('POST', '/internal/echo', {})).status, 401);

    const nowhere = createServiceClient({
      caller: 'orders',
      baseUrls: [deadUrl],
      internalSecret: secret,
    });
    await t.rejects(nowhere.request('POST', '/internal/echo'), { code: 'service_unavailable' });
  },
);

t.test('keyset cursors cannot be forged, edited or moved to another listing', async (t) => {
  const codec = createCursorCodec('c'.repeat(40), 'test/list');
  const schema = z.tuple([z.number(), z.string()]);
  const cursor = codec.encode([42, 'abc'], 'seller-1');
  t.same(codec.decode(cursor, schema, 'seller-1'), [42, 'abc']);
  const [body] = cursor.split('.') as [string];
  const edited = `${Buffer.from(JSON.stringify([43, 'abc'])).toString('base64url')}.${cursor.split('.')[1]}`;
  const forged = Buffer.from(JSON.stringify([1, 'x'])).toString('base64url');
  const otherPurpose = createCursorCodec('c'.repeat(40), 'other/list').encode(
    [42, 'abc'],
    'seller-1',
  );
  for (const bad of [edited, forged, `${body}.`, `${cursor}.x`, otherPurpose, 'not a cursor']) {
    t.throws(() => codec.decode(bad, schema, 'seller-1'), {
      code: 'validation_failed',
      errors: [{ path: 'query.cursor', code: 'invalid_cursor' }],
    });
  }
  t.throws(
    () => codec.decode(cursor, schema, 'seller-2'),
    { code: 'validation_failed' },
    'another listing',
  );
  const wrongShape = codec.encode({ not: 'a tuple' });
  t.throws(
    () => codec.decode(wrongShape, schema),
    { code: 'validation_failed' },
    'a payload of another shape',
  );
});
