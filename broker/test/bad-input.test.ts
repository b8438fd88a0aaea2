import t from 'tap';
import { randomUUID } from 'node:crypto';
import { type MqttClient } from '@mercado/common/mqtt';
import {
  Inbox,
  RawMqtt,
  eventually,
  publishOutcome,
  refusedWith,
  endMarker,
  startBroker,
  subscribeCodes,
  validMessage,
  type Teardown,
  type TestBroker,
} from './helpers.js';
import { testServiceMqttCredentials } from '@mercado/common/testing';

/**
 * Hostile and broken input against a running broker: oversized packets, payloads that are not
 * what the contract says, wildcard and `$share` tricks, NUL bytes, absurd topics, and a storm of
 * connections. Throughout, a bystander pair of services keeps exchanging messages and must keep
 * being served: one client's bad input may cost that client its connection, never anyone else.
 */

const userA = '3f0d7f4e-0000-4000-8000-0000000000aa';
const userB = '3f0d7f4e-0000-4000-8000-0000000000bb';
const T1 = 'pos-0101';
const T2 = 'pos-0102';
const order = '5b1d3c2a-0000-4000-8000-0000000000d1';
const otherOrder = '5b1d3c2a-0000-4000-8000-0000000000d2';

interface Bystanders {
  /** Sends one more message and waits for it to arrive. */
  exchange(): Promise<boolean>;
  /** Stops the pump; every acknowledged message must have arrived, and nobody was dropped. */
  finish(t: Asserts): Promise<void>;
}

type Asserts = Pick<typeof t, 'ok' | 'equal' | 'strictSame'>;

/**
 * inventory → products on inventory/low-stock, one QoS 1 message every 10 ms in the background,
 * connected before anything else happens (so before any connection storm).
 */
async function startBystanders(broker: TestBroker): Promise<Bystanders> {
  const subscriber = new Inbox(await broker.service('products'));
  await subscriber.client.subscribeAsync('inventory/low-stock', { qos: 1 });
  const publisher = await broker.service('inventory');
  const closes: string[] = [];
  subscriber.client.on('close', () => closes.push('subscriber'));
  publisher.on('close', () => closes.push('publisher'));
  const acked: string[] = [];
  let failed = 0;
  let inFlight = 0;
  const send = async () => {
    const { payload, marker } = validMessage('inventory/low-stock');
    inFlight += 1;
    const outcome = await publishOutcome(publisher, 'inventory/low-stock', payload);
    inFlight -= 1;
    if (outcome === 'acked') acked.push(marker);
    else failed += 1;
    return outcome === 'acked' ? marker : undefined;
  };
  const pump = setInterval(() => void send(), 10);
  return {
    async exchange() {
      const marker = await send();
      return marker !== undefined && (await subscriber.waitForMarker(marker, 3_000)) !== undefined;
    },
    async finish(t) {
      clearInterval(pump);
      await eventually(() => inFlight === 0);
      t.equal(failed, 0, 'bystanders: every publish acknowledged');
      t.ok(acked.length > 10, `bystanders exchanged ${acked.length} messages`);
      const allArrived = await eventually(() => acked.every((marker) => subscriber.has(marker)));
      t.ok(allArrived, 'bystanders: every acknowledged message arrived');
      t.strictSame(closes, [], 'bystanders were never disconnected');
    },
  };
}

async function stillServed(t: Asserts, broker: TestBroker, bystanders: Bystanders) {
  t.ok(await bystanders.exchange(), 'the bystanders are still exchanging messages');
  t.equal(await broker.readiness(), 200, '/health/ready is 200');
}

async function setUp(t: Teardown, env: Record<string, string> = {}) {
  const broker = await startBroker(t, {
    // Room for a payload over the contract's 64 KiB, so both limits can be hit separately.
    MAX_PACKET_BYTES: '100000',
    CONNECTIONS_PER_IP_PER_MINUTE: '1000000',
    // Services' payloads too (by default only terminals' and browsers' are checked by the broker):
    // this file drives the broker's validation through every topic.
    VALIDATE_PAYLOADS_FROM: 'all',
    ...env,
  });
  broker.registerTerminal(T1);
  broker.registerTerminal(T2);
  const bystanders = await startBystanders(broker);
  return { broker, bystanders };
}

t.test('bad input costs the sender its connection or its message, nobody else', async (t) => {
  const { broker, bystanders } = await setUp(t);

  await t.test('a packet over MAX_PACKET_BYTES closes that connection', async (t) => {
    const payments = new Inbox(await broker.service('payments'));
    await payments.client.subscribeAsync('payments/intents', { qos: 1 });
    const before = await broker.metric('mqtt_denied_total', { action: 'packet', kind: 'oversize' });

    // An authenticated service sending 150 KB.
    const orders = await broker.service('orders');
    const big = JSON.stringify({ type: 'payment.intent_created', pad: 'x'.repeat(150_000) });
    t.equal(await publishOutcome(orders, 'payments/intents', big), 'closed', 'mqtt.js: closed');

    // Before any CONNECT: a PUBLISH header declaring 1 MiB, then a trickle of body.
    const raw = await RawMqtt.open(broker.port);
    raw.send(Buffer.from([0x30, 0x80, 0x80, 0x40]));
    raw.send(Buffer.alloc(1024));
    await raw.closed;
    t.pass('raw: closed before its body arrived');

    const after = await broker.metric('mqtt_denied_total', { action: 'packet', kind: 'oversize' });
    t.equal(after - before, 2, 'both counted');
    // Anything let through would reach payments before a valid intent published after it.
    const end = await endMarker(payments, await broker.service('orders'), 'payments/intents');
    t.ok(end, 'the end marker arrived');
    t.strictSame(payments.messages, [end], 'nothing else was delivered');
    await stillServed(t, broker, bystanders);
  });

  await t.test('payloads the contract refuses are dropped; the sender stays', async (t) => {
    const payments = new Inbox(await broker.service('payments'));
    await payments.client.subscribeAsync('payments/intents', { qos: 1 });
    await payments.client.subscribeAsync('payments/requests', { qos: 1 });
    const ordersInbox = new Inbox(await broker.service('orders'));
    await ordersInbox.client.subscribeAsync('payments/results/+', { qos: 1 });
    const reasons = ['not_json', 'invalid_payload', 'topic_mismatch', 'too_large'];
    const before = Object.fromEntries(
      await Promise.all(
        reasons.map(
          async (reason) =>
            [reason, await broker.metric('mqtt_invalid_payloads_total', { reason })] as const,
        ),
      ),
    );

    const orders = await broker.service('orders');
    const valid = JSON.parse(validMessage('payments/intents').payload) as Record<string, unknown>;
    const cardNumber = '4000056655665556';
    const bad: Array<[MqttClient, string, string | Buffer, string]> = [
      [orders, 'payments/intents', 'not json', 'not_json'],
      [orders, 'payments/intents', '{"type":"payment.intent_created",', 'not_json'],
      [orders, 'payments/intents', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'not_json'],
      [orders, 'payments/intents', '', 'not_json'],
      [
        orders,
        'payments/intents',
        JSON.stringify({ ...valid, amountMinor: -5 }),
        'invalid_payload',
      ],
      [orders, 'payments/intents', JSON.stringify({ ...valid, extra: 1 }), 'invalid_payload'],
      [orders, 'payments/intents', JSON.stringify([valid]), 'invalid_payload'],
      [orders, 'payments/intents', ' '.repeat(70_000) + JSON.stringify(valid), 'too_large'],
    ];
    const paymentsService = await broker.service('payments');
    const result = JSON.parse(validMessage(`payments/results/${order}`).payload) as object;
    bad.push([
      paymentsService,
      `payments/results/${otherOrder}`,
      JSON.stringify(result),
      'topic_mismatch',
    ]);
    const gateway = await broker.service('gateway');
    const request = JSON.parse(validMessage('payments/requests').payload) as Record<
      string,
      unknown
    >;
    bad.push([
      gateway,
      'payments/requests',
      JSON.stringify({
        ...request,
        card: { number: cardNumber, expMonth: 12, expYear: 2030, cvc: '123', pin: '1234' },
      }),
      'invalid_payload',
    ]);
    for (const [client, topic, payload, reason] of bad) {
      t.equal(
        await publishOutcome(client, topic, payload),
        'acked',
        `${reason} on ${topic}: acked`,
      );
    }
    for (const client of [orders, paymentsService, gateway]) {
      t.ok(client.connected, 'the sender is still connected');
    }
    // Each sender's next valid message on the same topic: once it has arrived, none of the
    // sender's dropped payloads can still be on its way.
    const followUp = await endMarker(payments, orders, 'payments/intents');
    t.ok(followUp, "orders' next valid message goes through");
    const nextRequest = await endMarker(payments, gateway, 'payments/requests');
    t.ok(nextRequest, "the gateway's next valid message goes through");
    const nextResult = await endMarker(
      ordersInbox,
      paymentsService,
      `payments/results/${otherOrder}`,
    );
    t.ok(nextResult, "payments' next valid result goes through");
    t.strictSame(
      payments.messages.map((message) => message.payload).sort(),
      [followUp?.payload, nextRequest?.payload].sort(),
      'none of the refused payloads reached payments',
    );
    t.strictSame(ordersInbox.messages, [nextResult], 'the mismatched result reached nobody');
    const expected: Record<string, number> = {};
    for (const [, , , reason] of bad) expected[reason] = (expected[reason] ?? 0) + 1;
    for (const reason of reasons) {
      const now = await broker.metric('mqtt_invalid_payloads_total', { reason });
      t.equal(now - before[reason]!, expected[reason], `mqtt_invalid_payloads_total ${reason}`);
    }
    t.notMatch(broker.logs.text(), new RegExp(cardNumber), 'no card number in the logs');
    await stillServed(t, broker, bystanders);
  });

  await t.test('wildcard and $share tricks are refused with SUBACK 0x80', async (t) => {
    // The real payments service reads card requests as a member of its shared group.
    const payments = new Inbox(await broker.service('payments'));
    t.strictSame(
      await subscribeCodes(payments.client, ['$share/payments/payments/requests']),
      [1],
      'payments joins its group',
    );
    const browserA = new Inbox(await broker.browser(userA));
    const filtersA = [
      '#',
      '+/#',
      '+/+',
      'orders/+/#',
      `orders/${userB}/#`,
      `$share/x/orders/${userB}/#`,
      '$share/payments/payments/requests',
      '$share/payments/#',
      'orders/+/+/status',
      `orders/${userA}/#`,
    ];
    t.strictSame(
      await subscribeCodes(browserA.client, filtersA),
      [128, 128, 128, 128, 128, 128, 128, 128, 128, 1],
      'a browser gets its own orders only',
    );
    const terminal = new Inbox(await broker.terminal(T1));
    const filtersT1 = [
      'terminals/+/requests',
      '$share/payments/payments/requests',
      '$share/payments/terminals/+/requests',
      '#',
      `terminals/${T1}/#`,
      `terminals/${T1}/results`,
    ];
    t.strictSame(
      await subscribeCodes(terminal.client, filtersT1),
      [128, 128, 128, 128, 128, 1],
      'a terminal gets its own results only',
    );
    t.ok(browserA.client.connected && terminal.client.connected, 'refused filters keep them');

    const gateway = await broker.service('gateway');
    const orders = await broker.service('orders');
    const paymentsPublisher = await broker.service('payments');
    const t2 = await broker.terminal(T2);
    const cardRequest = validMessage('payments/requests');
    const ownOrder = validMessage(`orders/${userA}/${order}/status`);
    const otherUser = validMessage(`orders/${userB}/${order}/status`);
    const ownResult = validMessage(`terminals/${T1}/results`);
    const otherRequest = validMessage(`terminals/${T2}/requests`);
    // What they must not see first; what they may see last, as their end markers: once those
    // have arrived, nothing published before them is still on its way (helpers' `endMarker`).
    await publishOutcome(gateway, 'payments/requests', cardRequest.payload);
    await publishOutcome(orders, `orders/${userB}/${order}/status`, otherUser.payload);
    await publishOutcome(t2, `terminals/${T2}/requests`, otherRequest.payload);
    await publishOutcome(orders, `orders/${userA}/${order}/status`, ownOrder.payload);
    await publishOutcome(paymentsPublisher, `terminals/${T1}/results`, ownResult.payload);

    t.ok(
      await payments.waitForMarker(cardRequest.marker),
      'the payments group receives the card request (needs $share wired into the broker)',
    );
    t.ok(await browserA.waitForMarker(ownOrder.marker), "the browser gets its own order's status");
    t.ok(await terminal.waitForMarker(ownResult.marker), 'the terminal gets its own result');
    const stolen = [cardRequest, otherUser, otherRequest].map((message) => message.marker);
    t.strictSame(
      stolen.filter((marker) => browserA.has(marker) || terminal.has(marker)),
      [],
      "neither saw a card request, another user's order or another terminal's request",
    );
    await stillServed(t, broker, bystanders);
  });

  await t.test('NUL in topics, sent as raw bytes', async (t) => {
    // Raw packets, so the NUL reaches the broker exactly as written whatever a client library
    // would do with it (mqtt.js does not check; other libraries refuse or truncate).
    const watcher = new Inbox(await broker.service('gateway'));
    await watcher.client.subscribeAsync(['orders/#', 'payments/results/+'], { qos: 1 });
    const ordersCredentials = testServiceMqttCredentials('orders');
    const rawOrders = async () => {
      const raw = await RawMqtt.open(broker.port);
      const code = await raw.connect({
        clientId: `orders-raw-${randomUUID()}`,
        ...ordersCredentials,
      });
      t.equal(code, 0, 'a raw client connects as orders');
      return raw;
    };
    const names = [
      `orders/${userA}\u0000/${order}/status`,
      `orders/${userA}/${order}/status\u0000`,
      `orders/${userA}/${order}\u0000/status`,
      `\u0000orders/${userA}/${order}/status`,
    ];
    const markers: string[] = [];
    for (const name of names) {
      const raw = await rawOrders();
      const { payload, marker } = validMessage(`orders/${userA}/${order}/status`);
      markers.push(marker);
      t.equal(await raw.publish(name, payload), 'closed', `PUBLISH ${JSON.stringify(name)}`);
    }

    const browserRaw = await RawMqtt.open(broker.port);
    const browserOptions = await broker.browserOptions(userA);
    t.equal(
      await browserRaw.connect({
        clientId: browserOptions.clientId!,
        username: 'browser',
        password: browserOptions.password as string,
      }),
      0,
      'a raw browser connects',
    );
    const filters = [
      `orders/${userA}\u0000/#`,
      `orders/${userA}/\u0000/status`,
      `orders/\u0000/#`,
      `orders/${userA}/#\u0000`.replace('#\u0000', '+/status\u0000'),
    ];
    t.strictSame(
      await browserRaw.subscribe(filters),
      [128, 128, 128, 128],
      'SUBSCRIBE with NUL filters: 0x80 each',
    );
    t.ok(await browserRaw.alive(), 'the browser is still connected');
    browserRaw.destroy();
    const end = `orders/${userA}/${order}/status`;
    t.ok(await endMarker(watcher, await broker.service('orders'), end), 'the end marker arrived');
    t.strictSame(
      markers.filter((marker) => watcher.has(marker)),
      [],
      'no NUL topic reached a subscriber',
    );
    await stillServed(t, broker, bystanders);
  });

  await t.test('over-long levels and too many levels', async (t) => {
    const watcher = new Inbox(await broker.service('gateway'));
    await watcher.client.subscribeAsync('orders/#', { qos: 1 });
    const gateway = await broker.service('gateway');
    const level129 = 'x'.repeat(129);
    const euro129 = '€'.repeat(43); // 43 characters, 129 bytes: limits count bytes
    const long = 'a'.repeat(125);
    t.strictSame(
      await subscribeCodes(gateway, [
        `orders/${level129}/+/status`,
        `orders/+/${euro129}/status`,
        // Two 125-byte levels: each under 128, the whole over 256.
        `orders/${long}/${long}/status`,
        // 16 levels, aedes' maximum: reaches no contract topic.
        `orders/${'+/'.repeat(14)}#`,
        'orders/+/+/status',
      ]),
      [128, 128, 128, 128, 1],
      'the gateway may read every order status, but not through these',
    );
    t.ok(gateway.connected, 'still connected');

    // More than 16 levels: aedes ends the connection (its maxTopicLevels) before any hook.
    const deep = await broker.service('gateway');
    t.equal(await subscribeCodes(deep, [`orders/${'+/'.repeat(16)}#`]), 'closed', '17 levels');
    const deeper = await broker.service('gateway');
    t.equal(await subscribeCodes(deeper, ['a/'.repeat(1000) + '#']), 'closed', '1,001 levels');

    const markers: string[] = [];
    const publishes = [
      `orders/${level129}/${order}/status`,
      `orders/${userA}/${euro129}/status`,
      `orders/${long}/${long}/status`,
      `orders/${userA}/${order}/status${'/x'.repeat(13)}`,
      `orders/${userA}/${order}/status${'/x'.repeat(1000)}`,
    ];
    for (const topic of publishes) {
      const orders = await broker.service('orders');
      const { payload, marker } = validMessage(`orders/${userA}/${order}/status`);
      markers.push(marker);
      t.equal(
        await publishOutcome(orders, topic, payload),
        'closed',
        `PUBLISH to ${topic.length} characters, ${topic.split('/').length} levels: refused`,
      );
    }
    const end = `orders/${userA}/${order}/status`;
    t.ok(await endMarker(watcher, await broker.service('orders'), end), 'the end marker arrived');
    t.strictSame(
      markers.filter((marker) => watcher.has(marker)),
      [],
      'none reached a subscriber',
    );
    await stillServed(t, broker, bystanders);
  });

  await bystanders.finish(t);
  t.notOk(broker.broker.aedes.closed, 'the broker is up');
});

t.test('a storm of connections from one address', async (t) => {
  // 8 a minute: a burst of 2, which the bystanders take, then one every 7.5 s. The limit is per
  // client address, and every test client connects from 127.0.0.1: legitimate clients behind one
  // address (a NAT, a proxy that does not pass the client's address) share its limit, and a
  // storm from that address shuts them out too until it ends; clients already connected stay.
  const { broker, bystanders } = await setUp(t, { CONNECTIONS_PER_IP_PER_MINUTE: '8' });
  const before = await broker.metric('mqtt_denied_total', { action: 'connect', kind: 'rate' });
  const credentials = testServiceMqttCredentials('users');
  const storm = 3_000;
  const wave = 250;
  const outcomes: Array<number | 'closed' | 'timeout' | 'error'> = [];
  const started = Date.now();
  for (let first = 0; first < storm; first += wave) {
    const results = await Promise.all(
      Array.from({ length: Math.min(wave, storm - first) }, async (_, index) => {
        try {
          const raw = await RawMqtt.open(broker.port);
          // A refusal is immediate: the broker closes the socket without a CONNACK.
          const code = await raw.connect(
            { clientId: `users-storm-${first + index}`, ...credentials },
            // Generous: on a loaded machine a close can take a while to arrive; a CONNACK never should.
            10_000,
          );
          raw.destroy();
          return code;
        } catch {
          return 'error' as const;
        }
      }),
    );
    outcomes.push(...results);
  }
  const stormMs = Date.now() - started;
  const accepted = outcomes.filter((outcome) => outcome === 0).length;
  const refused = outcomes.filter((outcome) => outcome === 'closed').length;
  t.equal(outcomes.length, storm);
  // One connection refills every 7.5 s: however long the storm took, no more got through.
  const refills = 1 + Math.floor(stormMs / 7_500);
  t.ok(accepted <= refills, `at most ${refills} refill(s) connected (${accepted})`);
  const tally: Record<string, number> = {};
  for (const outcome of outcomes) tally[String(outcome)] = (tally[String(outcome)] ?? 0) + 1;
  t.equal(
    refused,
    storm - accepted,
    `every other connect was closed without CONNACK (${JSON.stringify(tally)})`,
  );
  const after = await broker.metric('mqtt_denied_total', { action: 'connect', kind: 'rate' });
  t.equal(after - before, storm - accepted, 'every refusal counted');

  await stillServed(t, broker, bystanders);
  t.match(
    await refusedWith(broker.listeners.mqttUrl, {
      ...broker.serviceOptions('orders'),
      connectTimeout: 2_000,
    }),
    /closed before CONNACK/,
    'a legitimate client from the same address is refused too, for now',
  );
  // Another address has its own bucket: it connects and is served.
  const other = await RawMqtt.open(broker.port, { localAddress: '127.0.0.2' });
  t.equal(
    await other.connect({
      clientId: `orders-other-${randomUUID()}`,
      ...testServiceMqttCredentials('orders'),
    }),
    0,
    'a client from 127.0.0.2 connects',
  );
  t.strictSame(await other.subscribe(['inventory/low-stock']), [1]);
  t.notSame(await other.next(3), 'timeout', 'and receives the bystanders’ messages');
  other.destroy();
  await bystanders.finish(t);
  t.notOk(broker.broker.aedes.closed, 'the broker is up');
});
