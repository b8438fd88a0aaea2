import { createHash } from 'node:crypto';
import t from 'tap';
import {
  connectMqtt,
  createServiceMqttClient,
  type IClientOptions,
  type MqttClient,
} from '@mercado/common/mqtt';
import type { Logger } from '@mercado/common/log';
import { createMetrics } from '@mercado/common/metrics';
import {
  eventually,
  freePort,
  testBrokerCredentials,
  testMqttPassword,
} from '@mercado/common/testing';
import { topics } from '@mercado/common/contract';
import { type Identity } from '@mercado/common/identity';
import {
  captureLogs,
  expectProblemAnswer,
  expectRefusals,
  type RefusalCase,
} from '@mercado/common/testing';
import {
  createMercadoBroker,
  createTerminalVerifier,
  loadBrokerConfig,
  startListeners,
  type TerminalVerifier,
} from '@mercado/broker/testing';
import { startTerminalPresence, type Presence } from '../src/app.js';
import { internalSecret, signUpAdmin, startUsers, type UsersHarness } from './helpers.js';

const broker: Identity = { roles: [], service: 'broker' };

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

async function terminalRows(users: UsersHarness) {
  return users.db('terminals').select('*').orderBy('id');
}

const valid = { status: 200, valid: true };
const invalid = { status: 200, valid: false };

/** The broker's question, as the broker asks it; the whole answer, status included. */
async function verify(users: UsersHarness, terminalId: string, secret: string) {
  const answer = await users.call('POST', '/internal/terminals/verify', {
    identity: broker,
    body: { terminalId, secret },
  });
  return { status: answer.status, ...answer.body } as { status: number; valid: boolean };
}

/** Waits until `read` returns what `done` accepts (the kit's eventually, which fails past its deadline). */
function until<T>(read: () => Promise<T> | T, done: (value: T) => boolean): Promise<T> {
  return eventually('the awaited presence', async () => {
    const value = await read();
    return done(value) ? value : undefined;
  });
}

t.test('an admin registers, lists, rotates and deletes terminals', async (t) => {
  const users = await startUsers(t);
  const admin = await signUpAdmin(users);

  const first = await users.call('POST', '/api/terminals', {
    identity: admin,
    body: { name: '  Till 1 ', id: 'madrid-centro-1', location: 'Madrid, Calle Mayor 5' },
  });
  t.equal(first.status, 201);
  t.equal(first.headers.get('cache-control'), 'no-store', 'a secret is never cached');
  const { secret: firstSecret, terminal: till } = first.body;
  t.match(firstSecret, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  t.same(first.body, {
    terminal: {
      id: 'madrid-centro-1',
      name: 'Till 1',
      location: 'Madrid, Calle Mayor 5',
      mqtt: { username: 'terminal:madrid-centro-1', clientId: 'terminal-madrid-centro-1' },
      presence: { status: 'unknown', since: null },
      lastTransactions: [],
      today: [],
      createdAt: till.createdAt,
      createdBy: admin.userId,
      secretRotatedAt: till.createdAt,
    },
    secret: firstSecret,
  });
  t.ok(Date.parse(till.createdAt) <= Date.now(), 'created now');

  const second = await users.call('POST', '/api/terminals', {
    identity: admin,
    body: { name: 'Kiosk' },
  });
  t.equal(second.status, 201);
  const kiosk = second.body.terminal;
  t.match(kiosk.id, /^term-[0-9a-f]{16}$/, 'an id is generated when none is chosen');
  t.same(kiosk.mqtt, { username: `terminal:${kiosk.id}`, clientId: `terminal-${kiosk.id}` });
  t.equal(kiosk.location, null);
  t.not(second.body.secret, firstSecret);

  const stored = await terminalRows(users);
  t.same(
    stored.map((row) => [row.id, row.secret_hash]),
    [
      ['madrid-centro-1', sha256(firstSecret)],
      [kiosk.id, sha256(second.body.secret)],
    ],
    'only a SHA-256 of each secret is kept',
  );

  const list = await users.call('GET', '/api/terminals', { identity: admin });
  t.equal(list.status, 200);
  t.same(list.body, { items: [till, kiosk], nextCursor: null }, 'in id order, with presence');
  const listed = JSON.stringify(list.body);
  t.notOk(listed.includes(firstSecret) || listed.includes(second.body.secret), 'no secret listed');

  const page1 = await users.call('GET', '/api/terminals?limit=1', { identity: admin });
  t.same(page1.body.items, [till]);
  t.type(page1.body.nextCursor, 'string');
  const page2 = await users.call(
    'GET',
    `/api/terminals?limit=1&cursor=${encodeURIComponent(page1.body.nextCursor)}`,
    { identity: admin },
  );
  t.same(page2.body, { items: [kiosk], nextCursor: null });

  t.same(await verify(users, 'madrid-centro-1', firstSecret), valid);
  t.same(await verify(users, 'madrid-centro-1', second.body.secret), invalid);
  t.same(await verify(users, 'madrid-centro-1', `${firstSecret}x`), invalid);
  t.same(await verify(users, 'nobody-here', firstSecret), invalid, 'unknown id');

  const rotated = await users.call('POST', '/api/terminals/madrid-centro-1/secret', {
    identity: admin,
  });
  t.equal(rotated.status, 200);
  t.equal(rotated.headers.get('cache-control'), 'no-store');
  t.match(rotated.body.secret, /^[A-Za-z0-9_-]{43}$/);
  t.not(rotated.body.secret, firstSecret);
  t.same(rotated.body.terminal, {
    ...till,
    secretRotatedAt: rotated.body.terminal.secretRotatedAt,
  });
  t.ok(rotated.body.terminal.secretRotatedAt >= till.createdAt);
  t.same(await verify(users, 'madrid-centro-1', firstSecret), invalid, 'old secret: no');
  t.same(await verify(users, 'madrid-centro-1', rotated.body.secret), valid);

  const deleted = await users.call('DELETE', '/api/terminals/madrid-centro-1', { identity: admin });
  t.same([deleted.status, deleted.body], [204, undefined]);
  t.same(await verify(users, 'madrid-centro-1', rotated.body.secret), invalid);
  const afterDelete = await users.call('GET', '/api/terminals', { identity: admin });
  t.same(afterDelete.body, { items: [kiosk], nextCursor: null });
  const row = await users.db('terminals').where({ id: 'madrid-centro-1' }).first();
  t.equal(row.deleted_by, admin.userId, 'the row stays, marked deleted');
  t.ok(row.deleted_at instanceof Date);

  for (const [method, path] of [
    ['DELETE', '/api/terminals/madrid-centro-1'],
    ['POST', '/api/terminals/madrid-centro-1/secret'],
  ] as const) {
    expectProblemAnswer(t, await users.call(method, path, { identity: admin }), {
      name: `${method} a deleted terminal`,
      status: 404,
      code: 'terminal_not_found',
    });
  }
  const reused = await users.call('POST', '/api/terminals', {
    identity: admin,
    body: { name: 'Till 1 again', id: 'madrid-centro-1' },
  });
  expectProblemAnswer(t, reused, {
    name: 'the id of a deleted terminal',
    status: 409,
    code: 'terminal_id_taken',
  });
  const taken = await users.call('POST', '/api/terminals', {
    identity: admin,
    body: { name: 'Kiosk twin', id: kiosk.id },
  });
  expectProblemAnswer(t, taken, { name: 'a live id', status: 409, code: 'terminal_id_taken' });
  t.equal((await terminalRows(users)).length, 2, 'no row was added');

  const logs = users.logs.text();
  for (const secret of [firstSecret, second.body.secret, rotated.body.secret]) {
    t.notOk(logs.includes(secret), 'a secret is absent from the logs');
  }
  t.same(
    users.logs.lines
      .filter((line) => line.actorId !== undefined)
      .map(({ actorId, terminalId, outcome }) => ({ actorId, terminalId, outcome })),
    [
      { actorId: admin.userId, terminalId: 'madrid-centro-1', outcome: 'terminal_registered' },
      { actorId: admin.userId, terminalId: kiosk.id, outcome: 'terminal_registered' },
      { actorId: admin.userId, terminalId: 'madrid-centro-1', outcome: 'terminal_secret_rotated' },
      { actorId: admin.userId, terminalId: 'madrid-centro-1', outcome: 'terminal_deleted' },
    ],
    'admin actions are logged with ids and outcomes',
  );
});

t.test(
  'only admins reach the registry, and only the broker asks the internal question',
  async (t) => {
    const users = await startUsers(t);
    const admin = await signUpAdmin(users);
    const created = await users.call('POST', '/api/terminals', {
      identity: admin,
      body: { name: 'Till', id: 'till-1' },
    });
    const secret = created.body.secret as string;
    const before = await terminalRows(users);
    const customer: Identity = { userId: admin.userId.replace(/.$/, '0'), roles: ['customer'] };
    const terminal: Identity = { userId: customer.userId!, roles: ['terminal', 'seller'] };

    const routes = [
      ['GET', '/api/terminals', undefined],
      ['POST', '/api/terminals', { name: 'Mine' }],
      ['POST', '/api/terminals/till-1/secret', undefined],
      ['DELETE', '/api/terminals/till-1', undefined],
    ] as const;
    for (const [method, path, body] of routes) {
      for (const identity of [customer, terminal]) {
        expectProblemAnswer(t, await users.call(method, path, { identity, body }), {
          name: `${method} ${path} as ${identity.roles.join('+')}`,
          status: 403,
          code: 'forbidden',
        });
      }
      expectProblemAnswer(t, await users.call(method, path, { identity: { roles: [] }, body }), {
        name: `${method} ${path} anonymously`,
        status: 401,
        code: 'unauthorized',
      });
      expectProblemAnswer(t, await users.call(method, path, { identity: broker, body }), {
        name: `${method} ${path} as a service`,
        status: 401,
        code: 'unauthorized',
      });
    }

    const question = { terminalId: 'till-1', secret };
    const unsigned = await fetch(`${users.url}/internal/terminals/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(question),
    });
    t.equal(unsigned.status, 401, 'no internal identity: refused');
    t.match(await unsigned.json(), { code: 'unauthorized' });
    const refusals: Array<[Identity, number, string]> = [
      [{ roles: [] }, 401, 'unauthorized'],
      [admin, 401, 'unauthorized'],
      [{ roles: [], service: 'orders' }, 403, 'forbidden'],
    ];
    for (const [identity, status, code] of refusals) {
      expectProblemAnswer(
        t,
        await users.call('POST', '/internal/terminals/verify', { identity, body: question }),
        { name: `verify as ${JSON.stringify(identity)}`, status, code },
      );
    }
    const forged = await fetch(`${users.url}/internal/terminals/verify`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-mercado-identity': Buffer.from(
          JSON.stringify({ roles: [], service: 'broker', iat: Math.floor(Date.now() / 1000) }),
        ).toString('base64url'),
        'x-mercado-identity-signature': 'bm90LWEtc2lnbmF0dXJl',
      },
      body: JSON.stringify(question),
    });
    t.equal(forged.status, 401, 'a forged service identity: refused');
    t.same(await verify(users, 'till-1', secret), valid, 'the broker is answered');
    t.same(await terminalRows(users), before, 'nothing changed');

    const document = await users.call('GET', '/openapi.json');
    t.same(Object.keys(document.body.paths['/api/terminals']).sort(), ['get', 'post']);
    t.same(document.body.paths['/api/terminals'].get['x-mercado-access'], ['admin']);
    t.ok(document.body.paths['/api/terminals/{id}/secret'].post);
    t.ok(document.body.paths['/api/terminals/{id}'].delete);
    t.notOk(document.body.paths['/internal/terminals/verify'], 'internal routes are not published');
  },
);

t.test('bad input gets a 4xx with a stable code and changes nothing', async (t) => {
  const users = await startUsers(t);
  const admin = await signUpAdmin(users);
  await users.call('POST', '/api/terminals', {
    identity: admin,
    body: { name: 'Till', id: 'till-1', location: 'Front desk' },
  });
  const before = await terminalRows(users);

  const cases: RefusalCase[] = [
    {
      name: 'malformed JSON',
      method: 'POST',
      path: '/api/terminals',
      rawBody: '{"name": "x",',
      status: 400,
      code: 'invalid_json',
    },
    {
      name: 'not JSON',
      method: 'POST',
      path: '/api/terminals',
      rawBody: 'name=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'no body',
      method: 'POST',
      path: '/api/terminals',
      status: 400,
      code: 'validation_failed',
      paths: ['body'],
    },
    {
      name: 'no name',
      method: 'POST',
      path: '/api/terminals',
      body: { id: 'till-2' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.name'],
    },
    {
      name: 'wrong types',
      method: 'POST',
      path: '/api/terminals',
      body: { name: 7, id: 12345, location: ['x'] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.name', 'body.id', 'body.location'],
    },
    {
      name: 'blank name and location',
      method: 'POST',
      path: '/api/terminals',
      body: { name: '   ', location: '' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.name', 'body.location'],
    },
    {
      name: 'name and location too long',
      method: 'POST',
      path: '/api/terminals',
      body: { name: 'n'.repeat(101), location: 'l'.repeat(201) },
      status: 400,
      code: 'validation_failed',
      paths: ['body.name', 'body.location'],
    },
    ...['ab', 'Till-2', '-till', 'till_2', 'till/2', 'till+2', 'till#2', 'x'.repeat(65), ''].map(
      (id) => ({
        name: `id ${JSON.stringify(id.length > 20 ? `${id.slice(0, 5)}…` : id)}`,
        method: 'POST',
        path: '/api/terminals',
        body: { name: 'Till 2', id },
        status: 400,
        code: 'validation_failed',
        paths: ['body.id'],
      }),
    ),
    {
      name: 'a secret of the admin’s choosing',
      method: 'POST',
      path: '/api/terminals',
      body: { name: 'Till 2', secret: 'hunter2hunter2' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.secret'],
    },
    {
      name: 'a taken id',
      method: 'POST',
      path: '/api/terminals',
      body: { name: 'Till 1 twin', id: 'till-1' },
      status: 409,
      code: 'terminal_id_taken',
    },
    {
      name: 'limit 0',
      method: 'GET',
      path: '/api/terminals?limit=0',
      status: 400,
      code: 'validation_failed',
      paths: ['query.limit'],
    },
    {
      name: 'limit over 100',
      method: 'GET',
      path: '/api/terminals?limit=101',
      status: 400,
      code: 'validation_failed',
      paths: ['query.limit'],
    },
    {
      name: 'a forged cursor',
      method: 'GET',
      path: '/api/terminals?cursor=WyJ0aWxsLTEiXQ.bm9wZQ',
      status: 400,
      code: 'validation_failed',
      paths: ['query.cursor'],
    },
    {
      name: 'an unknown query parameter',
      method: 'GET',
      path: '/api/terminals?status=online',
      status: 400,
      code: 'validation_failed',
      paths: ['query.status'],
    },
    {
      name: 'a malformed id to delete',
      method: 'DELETE',
      path: '/api/terminals/Till_1',
      status: 400,
      code: 'validation_failed',
      paths: ['params.id'],
    },
    {
      name: 'an unknown id to delete',
      method: 'DELETE',
      path: '/api/terminals/till-9',
      status: 404,
      code: 'terminal_not_found',
    },
    {
      name: 'an unknown id to rotate',
      method: 'POST',
      path: '/api/terminals/till-9/secret',
      status: 404,
      code: 'terminal_not_found',
    },
    {
      name: 'a malformed id to rotate',
      method: 'POST',
      path: '/api/terminals/..%2F/secret',
      status: 400,
      code: 'validation_failed',
      paths: ['params.id'],
    },
    ...(
      [
        ['PUT', '/api/terminals'],
        ['GET', '/api/terminals/till-1'],
        ['PATCH', '/api/terminals/till-1'],
        ['GET', '/api/terminals/till-1/secret'],
        ['GET', '/internal/terminals/verify'],
      ] as const
    ).map(([method, path]) => ({
      name: `${method} ${path}`,
      method,
      path,
      identity: path.startsWith('/internal') ? broker : admin,
      status: 405,
      code: 'method_not_allowed',
    })),
    {
      name: 'verify without a secret',
      method: 'POST',
      path: '/internal/terminals/verify',
      identity: broker,
      body: { terminalId: 'till-1' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.secret'],
    },
    {
      name: 'verify with an oversized id and secret',
      method: 'POST',
      path: '/internal/terminals/verify',
      identity: broker,
      body: { terminalId: 't'.repeat(65), secret: 's'.repeat(257) },
      status: 400,
      code: 'validation_failed',
      paths: ['body.terminalId', 'body.secret'],
    },
  ];
  // The admin calls, unless the case says who does.
  await expectRefusals(
    t,
    users.call,
    cases.map((c) => ({ ...c, identity: c.identity ?? admin })),
  );
  t.same(await terminalRows(users), before, 'nothing was written by any bad request');
});

/** A users replica's MQTT client, as runDatabaseService makes it. */
function usersMqtt(url: string, log: Logger, options: IClientOptions = {}): MqttClient {
  const client = createServiceMqttClient({
    service: 'users',
    config: { MQTT_URL: url, MQTT_PASSWORD: testMqttPassword('users') },
    log,
    options,
  });
  if (!client) throw new Error('no MQTT_URL');
  return client;
}

interface TestBroker {
  mqttUrl: string;
  stop(): Promise<void>;
}

/** Mercado's broker in-process on free ports (or `mqttPort`), with the given terminal registry. */
async function startBroker(
  t: { teardown(fn: () => unknown): void },
  verifyTerminal: TerminalVerifier,
  mqttPort = 0,
): Promise<TestBroker> {
  const config = loadBrokerConfig({
    INTERNAL_SECRET: internalSecret,
    ...testBrokerCredentials(),
    JWKS_URL: 'http://127.0.0.1:1/jwks.json',
    MQTT_PORT: String(mqttPort),
    PORT: '0',
  });
  const { log } = captureLogs('broker');
  const metrics = createMetrics('broker');
  const broker = await createMercadoBroker({ config, log, metrics, verifyTerminal });
  const listeners = await startListeners(broker, { config, log, metrics });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await broker.close();
      await listeners.close();
    })());
  t.teardown(stop);
  return { mqttUrl: listeners.mqttUrl, stop };
}

const online = (at?: string) =>
  JSON.stringify({ type: 'terminal.status', status: 'online', ...(at ? { at } : {}) });
const offline = JSON.stringify({ type: 'terminal.status', status: 'offline' });

/** A terminal as a real one connects: its own id, its secret, a retained `offline` last will. */
async function connectTerminal(
  t: { teardown(fn: () => unknown): void },
  url: string,
  terminalId: string,
  secret: string,
): Promise<MqttClient> {
  const client = await connectMqtt(url, {
    clientId: `terminal-${terminalId}`,
    username: `terminal:${terminalId}`,
    password: secret,
    reconnectPeriod: 0,
    will: {
      topic: topics.terminalStatus.build({ terminalId }),
      payload: Buffer.from(offline),
      qos: 1,
      retain: true,
    },
  });
  t.teardown(() => client.endAsync(true));
  return client;
}

async function refusedWith(url: string, terminalId: string, secret: string) {
  try {
    const client = await connectTerminal({ teardown() {} }, url, terminalId, secret);
    await client.endAsync(true);
    return 'connected';
  } catch (error) {
    return (error as { code?: number }).code;
  }
}

t.test(
  'presence follows a terminal’s retained status and its last will, through the real broker',
  async (t) => {
    // The broker needs the users service's URL for its verifier, and users the broker's.
    let verifyTerminal: TerminalVerifier = async () => false;
    const mqtt = await startBroker(t, (id, secret) => verifyTerminal(id, secret));
    const users = await startUsers(t, { MQTT_URL: mqtt.mqttUrl });
    verifyTerminal = createTerminalVerifier({ usersUrl: users.url, internalSecret });
    const admin = await signUpAdmin(users);
    const created = await users.call('POST', '/api/terminals', {
      identity: admin,
      body: { name: 'Till', id: 'sevilla-1' },
    });
    const { secret } = created.body as { secret: string };
    const presence = async (): Promise<Presence> =>
      (await users.call('GET', '/api/terminals', { identity: admin })).body.items[0].presence;
    t.same(await presence(), { status: 'unknown', since: null }, 'never heard from');

    t.equal(await refusedWith(mqtt.mqttUrl, 'sevilla-1', `${secret}x`), 4, 'a wrong secret');
    t.equal(await refusedWith(mqtt.mqttUrl, 'granada-1', secret), 4, 'an unknown terminal');

    const terminal = await connectTerminal(t, mqtt.mqttUrl, 'sevilla-1', secret);
    const at = new Date().toISOString();
    await terminal.publishAsync(
      topics.terminalStatus.build({ terminalId: 'sevilla-1' }),
      online(at),
      {
        qos: 1,
        retain: true,
      },
    );
    t.same(
      await until(presence, (p) => p.status === 'online'),
      { status: 'online', since: at },
      'online, since the time the terminal stamped',
    );

    // Ungraceful: the socket drops without DISCONNECT, so the broker publishes the will.
    const heardAt = new Date().toISOString();
    terminal.stream.destroy();
    const gone = await until(presence, (p) => p.status === 'offline');
    t.equal(gone.status, 'offline', 'the last will says offline');
    t.ok(gone.since !== null && gone.since >= heardAt, 'since when it was heard (no stamp)');

    // A replica that starts now hears the retained will, with no time to it.
    const replicaLog = captureLogs('users').log;
    const replicaMqtt = usersMqtt(mqtt.mqttUrl, replicaLog);
    t.teardown(() => replicaMqtt.endAsync(true));
    const replica = startTerminalPresence({ mqtt: replicaMqtt, log: replicaLog });
    t.teardown(() => replica.close());
    t.same(
      await until(
        () => replica.presenceOf('sevilla-1'),
        (p) => p.status !== 'unknown',
      ),
      { status: 'offline', since: null },
      'a retained status without its own time: since unknown',
    );
  },
);

t.test('presence is heard once the broker is up, and unknown while it is away', async (t) => {
  const port = await freePort();
  const logs = captureLogs('users');
  const trackerMqtt = usersMqtt(`mqtt://127.0.0.1:${port}`, logs.log, { reconnectPeriod: 20 });
  t.teardown(() => trackerMqtt.endAsync(true));
  const tracker = startTerminalPresence({ mqtt: trackerMqtt, log: logs.log });
  t.teardown(() => tracker.close());
  t.same(tracker.presenceOf('lugo-1'), { status: 'unknown', since: null }, 'no broker yet');

  const mqtt = await startBroker(
    t,
    async (id, secret) => id === 'lugo-1' && secret.toString() === 'lugo-secret',
    port,
  );
  const terminal = await connectTerminal(t, mqtt.mqttUrl, 'lugo-1', 'lugo-secret');
  await terminal.publishAsync(topics.terminalStatus.build({ terminalId: 'lugo-1' }), online(), {
    qos: 1,
    retain: true,
  });
  const heard = await until(
    () => tracker.presenceOf('lugo-1'),
    (p) => p.status === 'online',
  );
  t.equal(heard.status, 'online', 'the first connection was retried until the broker answered');
  t.same(
    logs.lines
      .filter((line) => line.msg === 'terminal presence unknown until the broker answers')
      .map((line) => line.level),
    ['warn'],
    'said once, however many attempts failed',
  );

  await terminal.endAsync(true);
  await mqtt.stop();
  t.same(
    await until(
      () => tracker.presenceOf('lugo-1'),
      (p) => p.status === 'unknown',
    ),
    { status: 'unknown', since: null },
    'what was heard is not trusted while the broker is away',
  );

  // A new broker knows no retained statuses: once reconnected, nothing old is shown.
  const again = await startBroker(
    t,
    async (id, secret) => id === 'lugo-1' && secret.toString() === 'lugo-secret',
    port,
  );
  await until(
    () =>
      logs.lines.some((line) => line.msg === 'terminal presence rebuilt from retained statuses'),
    Boolean,
  );
  t.same(tracker.presenceOf('lugo-1'), { status: 'unknown', since: null }, 'forgotten');
  const back = await connectTerminal(t, again.mqttUrl, 'lugo-1', 'lugo-secret');
  await back.publishAsync(topics.terminalStatus.build({ terminalId: 'lugo-1' }), online(), {
    qos: 1,
    retain: true,
  });
  t.equal(
    (
      await until(
        () => tracker.presenceOf('lugo-1'),
        (p) => p.status === 'online',
      )
    ).status,
    'online',
    'resubscribed by itself',
  );
});
