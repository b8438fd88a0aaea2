import type mqtt from 'mqtt';
import t from 'tap';
import { matchTopic, topics } from '@mercado/common/contract';
import { type MqttClient } from '@mercado/common/mqtt';
import {
  Inbox,
  eventually,
  publishOutcome,
  refusedWith,
  caughtUp,
  startBroker,
  subscribeCodes,
  validMessage,
  type TestBroker,
  type Teardown,
} from './helpers.js';
import { testServiceMqttCredentials } from '@mercado/common/testing';

/**
 * The topic contract's authorization, cell by cell, against a running broker with real MQTT
 * clients. The expected cells are written out by hand below, from the contract's table, and never
 * computed with mayPublish / maySubscribe: if the broker stopped asking the contract (or the
 * contract drifted from what was agreed), these tests fail.
 */

const userA = '3f0d7f4e-0000-4000-8000-00000000000a';
const userB = '3f0d7f4e-0000-4000-8000-00000000000b';
const T1 = 'pos-0001';
const T2 = 'pos-0002';
const order = '5b1d3c2a-0000-4000-8000-0000000000c1';

const services = ['users', 'products', 'inventory', 'orders', 'payments', 'gateway'] as const;
const columns = ['browserA', 'browserB', 'T1', 'T2', ...services] as const;
type Column = (typeof columns)[number];
type Kind = 'browser' | 'terminal' | 'service';
const kindOf = (column: Column): Kind =>
  column.startsWith('browser')
    ? 'browser'
    : column === 'T1' || column === 'T2'
      ? 'terminal'
      : 'service';

/**
 * Who may publish (P) and subscribe (S) each concrete topic (users reads terminal status: it
 * keeps the terminal registry and shows presence). Browser A is userA, browser B userB;
 * T1 and T2 are two registered terminals. Every row names some principal's own id and some other
 * principal's id, so "only its own" is checked in both directions.
 */
// prettier-ignore
const matrix: [topic: string, ...cells: string[]][] = [
  //                               brA  brB  T1   T2   users prod  inv   orders pay   gateway
  ['payments/intents',             '-', '-', '-', '-', '-',  '-',  '-',  'P',   'S',  '-'],
  ['payments/requests',            '-', '-', '-', '-', '-',  '-',  '-',  '-',   'S',  'P'],
  [`payments/results/${order}`,    '-', '-', '-', '-', '-',  '-',  '-',  'S',   'P',  'S'],
  ['payments/refunds',             '-', '-', '-', '-', '-',  '-',  '-',  'P',   'S',  '-'],
  ['payments/keys',                '-', '-', 'S', 'S', '-',  '-',  '-',  '-',   'P',  'S'],
  ['payments/status-requests',     '-', '-', '-', '-', '-',  '-',  '-',  'P',   'S',  '-'],
  [`payments/status/${order}`,     '-', '-', '-', '-', '-',  '-',  '-',  'S',   'P',  '-'],
  ['payments/terminal-transactions', '-', '-', '-', '-', 'S', '-',  '-',  '-',   'P',  '-'],
  [`terminals/${T1}/requests`,     '-', '-', 'P', '-', '-',  '-',  '-',  '-',   'S',  '-'],
  [`terminals/${T2}/requests`,     '-', '-', '-', 'P', '-',  '-',  '-',  '-',   'S',  '-'],
  [`terminals/${T1}/results`,      '-', '-', 'S', '-', '-',  '-',  '-',  '-',   'P',  '-'],
  [`terminals/${T2}/results`,      '-', '-', '-', 'S', '-',  '-',  '-',  '-',   'P',  '-'],
  [`terminals/${T1}/status`,       '-', '-', 'P', '-', 'S',  '-',  '-',  '-',   'S',  'S'],
  [`terminals/${T2}/status`,       '-', '-', '-', 'P', 'S',  '-',  '-',  '-',   'S',  'S'],
  [`orders/${userA}/${order}/status`, 'S', '-', '-', '-', '-', '-', '-',  'P',   '-',  'S'],
  [`orders/${userB}/${order}/status`, '-', 'S', '-', '-', '-', '-', '-',  'P',   '-',  'S'],
  ['inventory/low-stock',          '-', '-', '-', '-', '-',  'S',  'P',  'S',   '-',  'S'],
  ['users/revocations',            '-', '-', '-', '-', 'P',  '-',  '-',  '-',   '-',  'S'],
];

/** Only presence and payments' keys are published retained (the contract's `retain`), all at QoS 1. */
const retained = (topic: string) =>
  /^terminals\/[^/]+\/status$/.test(topic) || topic === 'payments/keys';

/** Subscription filters with wildcards, `$` and `$share`: who gets SUBACK 1 (S), nobody else. */
// prettier-ignore
const filterMatrix: [filter: string, ...cells: string[]][] = [
  //                                    brA  brB  T1   T2   users prod  inv   orders pay   gateway
  ['#',                                 '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  ['+/#',                               '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  ['+',                                 '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  ['+/+',                               '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  ['$SYS/#',                            '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  ['$SYS/broker/uptime',                '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  ['$SYS/+/clients/connected',          '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  ['$mercado/dropped',                  '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  // Four levels: only orders/{userId}/{orderId}/status has four, and only the gateway reads all.
  ['+/+/+/status',                      '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  'S'],
  [`orders/${userA}/#`,                 'S', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  'S'],
  [`orders/${userA}/+/status`,          'S', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  'S'],
  [`orders/${userB}/#`,                 '-', 'S', '-', '-', '-',  '-',  '-',  '-',   '-',  'S'],
  ['orders/+/#',                        '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  'S'],
  [`orders/+/${order}/status`,          '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  'S'],
  ['orders/#',                          '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  'S'],
  ['terminals/+/requests',              '-', '-', '-', '-', '-',  '-',  '-',  '-',   'S',  '-'],
  ['terminals/+/status',                '-', '-', '-', '-', 'S',  '-',  '-',  '-',   'S',  'S'],
  ['terminals/+/results',               '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  [`terminals/${T1}/#`,                 '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  [`terminals/${T1}/+`,                 '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  [`+/${T1}/results`,                   '-', '-', 'S', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  ['terminals/#',                       '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  // payments/+ reaches payments/keys, which payments publishes and only the gateway and terminals read.
  ['payments/+',                        '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  ['payments/#',                        '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  ['payments/results/+',                '-', '-', '-', '-', '-',  '-',  '-',  'S',   '-',  'S'],
  ['inventory/#',                       '-', '-', '-', '-', '-',  'S',  '-',  'S',   '-',  'S'],
  ['users/#',                           '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  'S'],
  ['$share/payments/payments/requests', '-', '-', '-', '-', '-',  '-',  '-',  '-',   'S',  '-'],
  ['$share/payments/terminals/+/requests', '-', '-', '-', '-', '-', '-',  '-',  '-',   'S',  '-'],
  [`$share/x/orders/${userA}/#`,        'S', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  'S'],
  [`$share/x/orders/${userB}/#`,        '-', 'S', '-', '-', '-',  '-',  '-',  '-',   '-',  'S'],
  ['$share/x/#',                        '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
  ['$share/x/$SYS/#',                   '-', '-', '-', '-', '-',  '-',  '-',  '-',   '-',  '-'],
];

const cell = (cells: string[], column: Column) => cells[columns.indexOf(column)] ?? '';

type Connector = (column: Column) => Promise<MqttClient>;

/** Starts a broker with T1 and T2 registered and a way to connect as each column. */
async function setUp(t: Teardown) {
  // Well over a hundred connections in a burst from 127.0.0.1: not what this file is about.
  const broker = await startBroker(t, { CONNECTIONS_PER_IP_PER_MINUTE: '1000000' });
  broker.registerTerminal(T1);
  broker.registerTerminal(T2);
  const connectAs: Connector = (column) => {
    switch (column) {
      case 'browserA':
        return broker.browser(userA);
      case 'browserB':
        return broker.browser(userB);
      case 'T1':
      case 'T2':
        return broker.terminal(column === 'T1' ? T1 : T2);
      default:
        return broker.service(column);
    }
  };
  return { broker, connectAs };
}

type Denials = Record<Kind, number>;
const noDenials = (): Denials => ({ browser: 0, terminal: 0, service: 0 });

type Asserts = Pick<typeof t, 'ok' | 'equal'>;

/** mqtt_denied_total by kind, for one action. */
async function deniedByKind(broker: TestBroker, action: 'subscribe' | 'publish') {
  const counts = noDenials();
  for (const kind of Object.keys(counts) as Kind[]) {
    counts[kind] = await broker.metric('mqtt_denied_total', { action, kind });
  }
  return counts;
}

/** Asserts that mqtt_denied_total for `action` rose by `expected` for each kind since `before`. */
async function expectDenied(
  t: Asserts,
  broker: TestBroker,
  action: 'subscribe' | 'publish',
  before: Denials,
  expected: Denials,
) {
  const after = await deniedByKind(broker, action);
  const actions = action === 'subscribe' ? 'subscribes' : 'publishes';
  for (const kind of Object.keys(after) as Kind[]) {
    t.equal(after[kind] - before[kind], expected[kind], `denied ${actions} of ${kind}s`);
  }
}

/**
 * Connects as every column (with `connect`) and subscribes it to all the filters of `rows` in one
 * SUBSCRIBE: the SUBACK has one code per filter (MQTT-3.9.3), 1 where the row's cell for the
 * column says S, 0x80 elsewhere. The client stays connected, and the refusals are counted by kind.
 */
async function expectSubscribeMatrix(
  t: Asserts,
  broker: TestBroker,
  rows: Array<[filter: string, ...cells: string[]]>,
  connect: Connector,
) {
  const before = await deniedByKind(broker, 'subscribe');
  const expectedDenied = noDenials();
  const filters = rows.map(([filter]) => filter);
  for (const column of columns) {
    const client = await connect(column);
    const codes = await subscribeCodes(client, filters);
    t.ok(Array.isArray(codes), `${column} got a SUBACK`);
    for (const [index, [filter, ...cells]] of rows.entries()) {
      const allowed = cell(cells, column).includes('S');
      if (!allowed) expectedDenied[kindOf(column)] += 1;
      t.equal(
        Array.isArray(codes) ? codes[index] : codes,
        allowed ? 1 : 0x80,
        `${column} subscribes ${filter}: ${allowed ? 'granted' : 'refused'}`,
      );
    }
    t.ok(client.connected, `${column} is still connected after its refused filters`);
  }
  await expectDenied(t, broker, 'subscribe', before, expectedDenied);
}

t.test('the matrix covers every contract topic, with own and other ids', async (t) => {
  // A topic added to the contract must get its rows here before it can pass.
  const covered = new Set(matrix.map(([topic]) => matchTopic(topic)?.name));
  t.strictSame([...covered].sort(), Object.keys(topics).sort());
  t.equal(matrix.length, 18);
  t.ok(matrix.every(([, ...cells]) => cells.length === columns.length));
  t.ok(filterMatrix.every(([, ...cells]) => cells.length === columns.length));
});

t.test('who may connect, and with which CONNACK the others are refused', async (t) => {
  const { broker, connectAs } = await setUp(t);
  const url = broker.listeners.mqttUrl;
  const connected = new Map<Column, MqttClient>();
  for (const column of columns) {
    const client = await connectAs(column);
    connected.set(column, client);
    t.ok(client.connected, `${column} connects`);
  }
  const orders = testServiceMqttCredentials('orders');
  const refusals: [string, number, mqtt.IClientOptions][] = [
    ['anonymous: not authorized', 5, { clientId: 'anon-1' }],
    [
      'a wrong service password',
      4,
      { clientId: 'orders-x', username: orders.username, password: `${orders.password}x` },
    ],
    [
      "another service's password",
      4,
      { clientId: 'payments-x', username: 'service:payments', password: orders.password },
    ],
    [
      'a service name the contract does not know',
      4,
      { clientId: 'billing-x', username: 'service:billing', password: orders.password },
    ],
    [
      'an expired browser token',
      4,
      {
        clientId: `web-${userA}-1`,
        username: 'browser',
        password: await broker.token(userA, '-1m'),
      },
    ],
    [
      'a browser token signed by another key',
      4,
      {
        clientId: `web-${userA}-2`,
        username: 'browser',
        password: await broker.foreignToken(userA),
      },
    ],
    [
      'a terminal with a wrong secret',
      4,
      { clientId: `terminal-${T1}`, username: `terminal:${T1}`, password: 'not-the-secret' },
    ],
    [
      'an unregistered terminal',
      4,
      { clientId: 'terminal-pos-9999', username: 'terminal:pos-9999', password: 'whatever' },
    ],
  ];
  for (const [name, code, options] of refusals) {
    t.equal(await refusedWith(url, options), code, name);
  }
  const { password: secretT2 } = broker.terminalOptions(T2);
  t.equal(
    await refusedWith(url, {
      clientId: `terminal-${T1}`,
      username: `terminal:${T2}`,
      password: secretT2,
    }),
    2,
    "T2's credentials with T1's client id (it would kick T1 off)",
  );
  t.equal(
    await refusedWith(url, { ...(await broker.browserOptions(userB)), clientId: `web-${userA}-3` }),
    2,
    "browser B with browser A's client id namespace",
  );
  // A refused CONNECT with someone's client id does not take their connection over.
  t.ok(connected.get('T1')!.connected, 'T1 is still connected');
  t.ok(connected.get('browserA')!.connected, 'browser A is still connected');
  t.equal(await broker.metric('mqtt_denied_total', { action: 'connect', kind: 'unknown' }), 8);
  t.equal(await broker.metric('mqtt_denied_total', { action: 'connect', kind: 'terminal' }), 1);
  t.equal(await broker.metric('mqtt_denied_total', { action: 'connect', kind: 'browser' }), 1);
});

t.test('every principal × every contract topic × publish and subscribe', async (t) => {
  const { broker, connectAs } = await setUp(t);
  const connections = new Map<Column, MqttClient>();
  const inboxes: Array<[Column, Inbox]> = [];
  const inboxOf = new Map<Column, Inbox>();
  const subscriber = async (column: Column) => {
    const client = await connectAs(column);
    connections.set(column, client);
    const inbox = new Inbox(client);
    inboxes.push([column, inbox]);
    inboxOf.set(column, inbox);
    return client;
  };

  await t.test('subscribe: SUBACK 1 where the contract says S, 0x80 elsewhere', async (t) => {
    await expectSubscribeMatrix(t, broker, matrix, subscriber);
  });

  /**
   * Each topic's publisher publishes one valid message on it (PUBACK expected), through the
   * connections the subscribe step left: what was published, and to whom it may go.
   */
  const publishRound = async (t: Asserts) => {
    const published: Array<[topic: string, marker: string, receivers: Column[]]> = [];
    for (const [topic, ...cells] of matrix) {
      for (const column of columns) {
        if (!cell(cells, column).includes('P')) continue;
        const { payload, marker } = validMessage(topic);
        const outcome = await publishOutcome(connections.get(column)!, topic, payload, {
          retain: retained(topic),
        });
        t.equal(outcome, 'acked', `${column} publishes ${topic}: accepted`);
        published.push([topic, marker, columns.filter((c) => cell(cells, c).includes('S'))]);
      }
    }
    return published;
  };

  /**
   * The end of what every live connection can still receive (helpers' `endMarker`): a second
   * round, every publisher once more on each of its topics, heard by every subscriber of each;
   * a connection that holds no subscription at all (inventory's) ends with a round trip.
   */
  const endOfDeliveries = async (t: Asserts) => {
    const ends = await publishRound(t);
    const heard = await eventually(() =>
      ends.every(([, marker, receivers]) =>
        receivers.every((column) => inboxOf.get(column)!.has(marker)),
      ),
    );
    t.ok(heard, 'every subscriber heard the end markers of its topics');
    for (const column of columns) {
      if (!ends.some(([, , receivers]) => receivers.includes(column))) {
        await caughtUp(connections.get(column)!);
      }
    }
  };

  await t.test('publish allowed: PUBACK, and exactly the S principals receive it', async (t) => {
    const published = await publishRound(t);
    t.equal(published.length, matrix.length, 'each topic has exactly one publisher');
    const arrived = await eventually(() =>
      published.every(([, marker, receivers]) =>
        receivers.every((column) => inboxOf.get(column)!.has(marker)),
      ),
    );
    t.ok(arrived, 'every authorised subscriber received what was published to it');
    // A wrong delivery (a refused subscription kept after all) would come before the end markers.
    await endOfDeliveries(t);
    for (const [topic, marker, receivers] of published) {
      const got = columns.filter((column) => inboxOf.get(column)!.has(marker));
      t.strictSame(got, receivers, `${topic} reached exactly its subscribers`);
    }
  });

  await t.test('publish refused: the connection ends and nobody receives it', async (t) => {
    const before = await deniedByKind(broker, 'publish');
    const expectedDenied = noDenials();
    const refusedMarkers: Array<[string, string]> = [];
    const attempt = async (column: Column, topic: string) => {
      const { payload, marker } = validMessage(topic);
      refusedMarkers.push([`${column} → ${topic}`, marker]);
      // A fresh connection each: a refused publish ends the connection that sent it.
      const client = await connectAs(column);
      const outcome = await publishOutcome(client, topic, payload, { retain: retained(topic) });
      t.equal(outcome, 'closed', `${column} publishes ${topic}: refused, connection closed`);
      expectedDenied[kindOf(column)] += 1;
    };
    const deniedCells = (column: Column) =>
      matrix.filter(([, ...cells]) => !cell(cells, column).includes('P')).map(([topic]) => topic);

    // Browsers and services in parallel: their client ids are theirs to vary.
    await Promise.all(
      columns
        .filter((column) => kindOf(column) !== 'terminal')
        .flatMap((column) => deniedCells(column).map((topic) => attempt(column, topic))),
    );
    // A terminal has exactly one client id, so each attempt takes over its subscriber's
    // connection (MQTT-3.1.4-2): one at a time, and its subscriber is put back afterwards.
    for (const column of ['T1', 'T2'] as const) {
      for (const topic of deniedCells(column)) await attempt(column, topic);
      const client = await subscriber(column);
      const own = matrix.filter(([, ...cells]) => cell(cells, column).includes('S'));
      t.strictSame(
        await subscribeCodes(
          client,
          own.map(([topic]) => topic),
        ),
        own.map(() => 1),
        `${column} subscribes again`,
      );
    }
    // A refused publish forwarded all the same would come before the end markers; the
    // terminals' first connections, taken over, can receive nothing once they are closed.
    await endOfDeliveries(t);
    const takenOver = inboxes.filter(([column, inbox]) => inbox.client !== connections.get(column));
    t.ok(
      await eventually(() => takenOver.every(([, inbox]) => !inbox.client.connected)),
      "the terminals' first connections are closed",
    );
    for (const [column, inbox] of inboxes) {
      const leaked = refusedMarkers.filter(([, marker]) => inbox.has(marker)).map(([name]) => name);
      t.strictSame(leaked, [], `${column} received no refused publish`);
    }
    await expectDenied(t, broker, 'publish', before, expectedDenied);
    t.equal(expectedDenied.browser + expectedDenied.terminal + expectedDenied.service, 162);
  });

  await t.test('the other connections were served throughout', async (t) => {
    for (const column of columns) {
      if (kindOf(column) === 'terminal') continue;
      t.ok(connections.get(column)!.connected, `${column} is still connected`);
    }
  });
});

t.test('wildcards, $SYS and $share: the filter matrix', async (t) => {
  const { broker, connectAs } = await setUp(t);
  await expectSubscribeMatrix(t, broker, filterMatrix, connectAs);
});

t.test('nobody publishes to $SYS or outside the contract', async (t) => {
  const { broker, connectAs } = await setUp(t);
  const watcher = await broker.service('gateway');
  await subscribeCodes(watcher, ['orders/#']);
  const before = await broker.metric('mqtt_denied_total', { action: 'publish' });
  const topics = ['$SYS/broker/uptime', '$SYS/x/clients/connected', 'foo/bar', 'orders/x'];
  for (const column of columns) {
    for (const topic of topics) {
      const client = await connectAs(column);
      t.equal(
        await publishOutcome(client, topic, '{}'),
        'closed',
        `${column} publishes ${topic}: refused`,
      );
    }
  }
  const after = await broker.metric('mqtt_denied_total', { action: 'publish' });
  t.equal(after - before, columns.length * topics.length, 'every refusal counted');
  t.ok(watcher.connected);
});

t.test('retained only where the contract retains: terminal status', async (t) => {
  const { broker, connectAs } = await setUp(t);
  // A third terminal, whose status is published last: the end marker.
  const T3 = 'pos-0003';
  broker.registerTerminal(T3);
  // What the gateway and payments subscribe to: live now, and again later. Terminals' status
  // comes last: a new subscriber is sent the retained messages filter by filter, in this order.
  const gatewayFilters = [
    'orders/#',
    'payments/results/+',
    'inventory/low-stock',
    'terminals/+/status',
  ];
  const paymentsFilters = [
    'payments/requests',
    'payments/intents',
    'terminals/+/requests',
    'terminals/+/status',
  ];
  const live = new Inbox(await broker.service('gateway'));
  await subscribeCodes(live.client, gatewayFilters);
  const livePayments = new Inbox(await broker.service('payments'));
  await subscribeCodes(livePayments.client, paymentsFilters);

  // T1's own status, retained: accepted, and kept for whoever subscribes later.
  const status = validMessage(`terminals/${T1}/status`);
  const t1 = await connectAs('T1');
  t.equal(
    await publishOutcome(t1, `terminals/${T1}/status`, status.payload, { retain: true }),
    'acked',
    'a terminal publishes its own status retained',
  );
  t.ok(await live.waitForMarker(status.marker), 'a live subscriber gets it');

  // T1 claiming T2's status, retained or not: refused, and nothing is kept.
  const forged = validMessage(`terminals/${T2}/status`);
  t.equal(
    await publishOutcome(await connectAs('T1'), `terminals/${T2}/status`, forged.payload, {
      retain: true,
    }),
    'closed',
    "a terminal publishing another terminal's status is refused",
  );
  const forgedLive = validMessage(`terminals/${T2}/status`);
  t.equal(
    await publishOutcome(await connectAs('T1'), `terminals/${T2}/status`, forgedLive.payload),
    'closed',
    '… retained or not',
  );

  // Retained anywhere else: refused, even by the topic's own publisher.
  const attempts: Array<[Column, string]> = [
    ['gateway', 'payments/requests'],
    ['orders', 'payments/intents'],
    ['payments', `payments/results/${order}`],
    ['orders', `orders/${userA}/${order}/status`],
    ['inventory', 'inventory/low-stock'],
    ['T2', `terminals/${T2}/requests`],
  ];
  const markers: string[] = [forged.marker, forgedLive.marker];
  for (const [column, topic] of attempts) {
    const message = validMessage(topic);
    markers.push(message.marker);
    t.equal(
      await publishOutcome(await connectAs(column), topic, message.payload, { retain: true }),
      'closed',
      `${column} publishes ${topic} retained: refused`,
    );
  }

  // The end marker: T3's status, retained, the last topic retained. Live subscribers get it after
  // anything refused before it; late ones as the last of their retained messages (its filter is
  // their last, and within a filter aedes sends them in the order their topics were first
  // retained: docs/platform-notes.md, "aedes delivers in order").
  const end = validMessage(`terminals/${T3}/status`);
  t.equal(
    await publishOutcome(await broker.terminal(T3), `terminals/${T3}/status`, end.payload, {
      retain: true,
    }),
    'acked',
    'T3 publishes its status retained',
  );

  // A subscriber arriving now gets T1's retained status, and nothing retained from the refusals.
  const late = new Inbox(await broker.service('gateway'));
  const latePayments = new Inbox(await broker.service('payments'));
  await subscribeCodes(late.client, gatewayFilters);
  await subscribeCodes(latePayments.client, paymentsFilters);
  const kept = await late.waitForMarker(status.marker);
  t.equal(kept?.retain, true, "a late subscriber gets T1's status as a retained message");
  for (const inbox of [live, livePayments, late, latePayments]) {
    t.ok(await inbox.waitForMarker(end.marker), 'the end marker arrived');
  }
  for (const inbox of [live, livePayments, late, latePayments]) {
    t.strictSame(
      markers.filter((marker) => inbox.has(marker)),
      [],
      'no refused message delivered or kept',
    );
  }
});

t.test("an admin's browser may read every terminal's presence, and nothing else new", async (t) => {
  const { broker, connectAs } = await setUp(t);
  const admin = '3f0d7f4e-0000-4000-8000-0000000000ad';
  const seller = '3f0d7f4e-0000-4000-8000-00000000005e';
  // Written out by hand: what an admin's browser is granted beyond a browser's own order status.
  const adminGets = new Set([
    `terminals/${T1}/status`,
    `terminals/${T2}/status`,
    'terminals/+/status',
  ]);
  const filters = [...matrix.map(([topic]) => topic), ...filterMatrix.map(([filter]) => filter)];
  const browsers: Array<[string, Promise<MqttClient>, (filter: string) => boolean]> = [
    ['an admin', broker.browser(admin, undefined, ['admin']), (filter) => adminGets.has(filter)],
    ['a customer', broker.browser(userA), (filter) => filter.includes(`orders/${userA}/`)],
    ['a seller', broker.browser(seller, undefined, ['customer', 'seller']), () => false],
  ];
  for (const [who, connecting, granted] of browsers) {
    const client = await connecting;
    const codes = await subscribeCodes(client, filters);
    t.ok(Array.isArray(codes), `${who}'s browser got a SUBACK`);
    const got = filters.filter((_, index) => Array.isArray(codes) && codes[index] === 1);
    const wanted = filters.filter(granted);
    t.strictSame(got, wanted, `${who}'s browser is granted exactly its filters`);
  }

  // It hears a terminal's retained status, live and on subscribing.
  const live = new Inbox(await broker.browser(admin, undefined, ['admin']));
  t.strictSame(await subscribeCodes(live.client, ['terminals/+/status']), [1]);
  const online = validMessage(`terminals/${T1}/status`);
  const t1 = await connectAs('T1');
  t.equal(
    await publishOutcome(t1, `terminals/${T1}/status`, online.payload, { retain: true }),
    'acked',
  );
  t.ok(await live.waitForMarker(online.marker), "the admin's browser hears T1 come online");
  const late = new Inbox(await broker.browser(admin, undefined, ['admin']));
  await subscribeCodes(late.client, ['terminals/+/status']);
  t.equal((await late.waitForMarker(online.marker))?.retain, true, '… and a late one, retained');

  // Reading only: its publishes are refused, retained or not, and nobody hears them.
  const watcher = new Inbox(await broker.service('gateway'));
  await subscribeCodes(watcher.client, ['terminals/+/status']);
  const forged: string[] = [];
  for (const retain of [true, false]) {
    const message = validMessage(`terminals/${T2}/status`);
    forged.push(message.marker);
    const client = await broker.browser(admin, undefined, ['admin']);
    t.equal(
      await publishOutcome(client, `terminals/${T2}/status`, message.payload, { retain }),
      'closed',
      `an admin's browser publishing a terminal's status${retain ? ' retained' : ''}: refused`,
    );
  }
  const end = validMessage(`terminals/${T2}/status`);
  await publishOutcome(await connectAs('T2'), `terminals/${T2}/status`, end.payload, {
    retain: true,
  });
  t.ok(await watcher.waitForMarker(end.marker), 'the end marker arrived');
  t.strictSame(
    forged.filter((marker) => watcher.has(marker)),
    [],
    'nobody heard the refused publishes',
  );
});
