import net from 'node:net';
import t from 'tap';
import {
  Inbox,
  ManualClock,
  eventually,
  nextMessage,
  orderStatus,
  refusedWith,
  startBroker,
  validMessage,
} from './helpers.js';
import { testServiceMqttCredentials } from '@mercado/common/testing';

t.test('who may connect: services, browsers with a valid token, nobody else', async (t) => {
  const { listeners, token, otherAlgorithmToken, service, browser } = await startBroker(
    t,
    {},
    { terminalRegistry: false },
  );
  const url = listeners.mqttUrl;
  t.ok((await service('orders')).connected, 'a service with its derived password');
  t.ok((await browser('3f0d7f4e-0000-4000-8000-000000000001')).connected, 'a browser with a token');

  const { username, password } = testServiceMqttCredentials('orders');
  t.equal(await refusedWith(url, { clientId: 'anon-1' }), 5, 'anonymous: not authorized');
  t.equal(
    await refusedWith(url, { clientId: 'orders-x', username, password: `${password}x` }),
    4,
    'a wrong service password',
  );
  t.equal(
    await refusedWith(url, {
      clientId: 'orders-x',
      username: 'service:billing',
      password,
    }),
    4,
    'a service the contract does not know',
  );
  t.equal(
    await refusedWith(url, {
      clientId: 'web-u1-1',
      username: 'browser',
      password: await token('u1', '-1m'),
    }),
    4,
    'an expired token',
  );
  t.equal(
    await refusedWith(url, {
      clientId: 'web-u1-1',
      username: 'browser',
      password: await otherAlgorithmToken('u1'),
    }),
    4,
    'a token signed with another algorithm (ES256), although the key set holds its key',
  );
  t.equal(
    await refusedWith(url, { clientId: 'web-u1-1', username: 'browser', password: 'not.a.jwt' }),
    4,
    'a malformed token',
  );
  t.equal(
    await refusedWith(url, { clientId: 'payments-1', username, password }),
    2,
    "a client id in another principal's namespace",
  );
  t.equal(
    await refusedWith(url, {
      clientId: 'terminal-t1',
      username: 'terminal:t1',
      password: 'anything',
    }),
    4,
    'no terminal registry configured: no terminal',
  );
});

t.test('the contract decides every publish and subscribe', async (t) => {
  const { service, browser, metricsText, logs } = await startBroker(t);
  const userId = '3f0d7f4e-0000-4000-8000-000000000002';
  const shopper = await browser(userId);
  // The SUBACK itself: mqtt.js reports a refusal as an error, without the per-filter codes.
  const granted = await new Promise<number[]>((resolve) => {
    shopper.on('packetreceive', function onPacket(packet) {
      if (packet.cmd === 'suback') resolve(packet.granted as number[]);
    });
    shopper.subscribe(
      [`orders/${userId}/+/status`, 'orders/+/#', '$SYS/#', '#', 'payments/requests'],
      { qos: 0 },
      () => undefined,
    );
  });
  t.same(granted, [0, 128, 128, 128, 128], 'own order status only');

  const orders = await service('orders');
  const delivered = nextMessage(shopper);
  await orders.publishAsync(
    `orders/${userId}/5b1d3c2a-0000-4000-8000-0000000000a1/status`,
    orderStatus('5b1d3c2a-0000-4000-8000-0000000000a1'),
    { qos: 1 },
  );
  t.equal(
    await delivered,
    `orders/${userId}/5b1d3c2a-0000-4000-8000-0000000000a1/status`,
    'the shopper gets its order status',
  );

  const closed = new Promise((resolve) => shopper.stream.once('close', resolve));
  shopper.publish(
    `orders/${userId}/5b1d3c2a-0000-4000-8000-0000000000a1/status`,
    orderStatus('5b1d3c2a-0000-4000-8000-0000000000a1'),
    { qos: 0 },
  );
  await closed;
  t.pass('a denied publish ends the connection');
  const metrics = await metricsText();
  t.match(metrics, /mqtt_denied_total\{action="publish",kind="browser"[^}]*\} 1/);
  t.match(metrics, /mqtt_denied_total\{action="subscribe",kind="browser"[^}]*\} 4/);
  t.match(logs.text(), /mqtt publish denied/);
});

t.test(
  'an invalid payload from a terminal is dropped and counted; it stays connected',
  async (t) => {
    const { service, terminal, registerTerminal, metricsText, logs } = await startBroker(t);
    const payments = await service('payments');
    const received = new Inbox(payments);
    await payments.subscribeAsync('terminals/+/requests', { qos: 1 });
    registerTerminal('shop-1');
    const device = await terminal('shop-1');
    const card = '4111111111111111';
    await device.publishAsync('terminals/shop-1/requests', `{"type":"x","card":"${card}"}`, {
      qos: 1,
    });
    await device.publishAsync('terminals/shop-1/requests', 'not json', { qos: 1 });
    t.pass('both acknowledged');
    // A valid one after them on the same connection: once it is here, they would have been.
    const valid = validMessage('terminals/shop-1/requests');
    await device.publishAsync('terminals/shop-1/requests', valid.payload, { qos: 1 });
    t.ok(await received.waitForMarker(valid.marker), 'the valid request that followed arrived');
    t.same(
      received.messages.map((message) => message.payload),
      [valid.payload],
      'and nothing else',
    );
    t.ok(device.connected, 'the sender is still connected');
    const metrics = await metricsText();
    t.match(metrics, /mqtt_invalid_payloads_total\{reason="invalid_payload"[^}]*\} 1/);
    t.match(metrics, /mqtt_invalid_payloads_total\{reason="not_json"[^}]*\} 1/);
    t.match(logs.text(), /"terminalId":"shop-1".*mqtt payload dropped/, 'logged with its ids');
    t.notMatch(logs.text(), new RegExp(card), 'payloads never reach the log');
  },
);

t.test(
  'services’ payloads are checked by their receivers, or by the broker too with VALIDATE_PAYLOADS_FROM=all',
  async (t) => {
    for (const [setting, delivered] of [
      ['untrusted', true],
      ['all', false],
    ] as const) {
      const { service, metric } = await startBroker(t, { VALIDATE_PAYLOADS_FROM: setting });
      const products = await service('products');
      const received = new Inbox(products);
      await products.subscribeAsync('inventory/low-stock', { qos: 1 });
      const inventory = await service('inventory');
      await inventory.publishAsync('inventory/low-stock', '{"type":"x"}', { qos: 1 });
      const valid = validMessage('inventory/low-stock');
      await inventory.publishAsync('inventory/low-stock', valid.payload, { qos: 1 });
      t.ok(await received.waitForMarker(valid.marker), `${setting}: the valid one arrived`);
      t.same(
        received.messages.map((message) => message.payload),
        delivered ? ['{"type":"x"}', valid.payload] : [valid.payload],
        `${setting}: the invalid one was ${delivered ? 'delivered' : 'dropped'}`,
      );
      t.ok(inventory.connected);
      t.equal(
        await metric('mqtt_invalid_payloads_total', { reason: 'invalid_payload' }),
        delivered ? 0 : 1,
      );
    }
  },
);

t.test('an oversized packet ends only that connection', async (t) => {
  const { listeners, service, metricsText } = await startBroker(t, { MAX_PACKET_BYTES: '2048' });
  const bystander = await service('products');
  const port = Number(new URL(listeners.mqttUrl).port);
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  // A PUBLISH header declaring 1 MiB (Remaining Length 0x80 0x80 0x40), then a trickle of body.
  socket.write(Buffer.from([0x30, 0x80, 0x80, 0x40]));
  socket.write(Buffer.alloc(512));
  await new Promise((resolve) => socket.once('close', resolve));
  t.pass('the connection was closed before its body arrived');
  t.ok(bystander.connected, 'everyone else is served');
  t.match(await metricsText(), /mqtt_denied_total\{action="packet",kind="oversize"[^}]*\} 1/);
});

t.test('browsers connect over WebSocket at /mqtt', async (t) => {
  const { listeners, browser, service } = await startBroker(t);
  const userId = '3f0d7f4e-0000-4000-8000-000000000003';
  const shopper = await browser(userId, listeners.wsUrl);
  await shopper.subscribeAsync(`orders/${userId}/#`, { qos: 1 });
  const orders = await service('orders');
  const delivered = nextMessage(shopper);
  await orders.publishAsync(
    `orders/${userId}/5b1d3c2a-0000-4000-8000-0000000000a2/status`,
    orderStatus('5b1d3c2a-0000-4000-8000-0000000000a2'),
    { qos: 1 },
  );
  t.equal(await delivered, `orders/${userId}/5b1d3c2a-0000-4000-8000-0000000000a2/status`);
  const health = await fetch(`${listeners.httpUrl}/health/ready`);
  t.equal(health.status, 200);
});

t.test('a storm of connects from one address is cut off', async (t) => {
  // The bucket refills with time (40 a minute: one every 1.5 s); a clock that stands still makes
  // the count exact however slowly a loaded machine opens the 30 connections.
  const clock = new ManualClock();
  const { listeners } = await startBroker(t, { CONNECTIONS_PER_IP_PER_MINUTE: '40' }, { clock });
  const { username, password } = testServiceMqttCredentials('orders');
  const storm = (from: number, count: number) =>
    Promise.all(
      Array.from({ length: count }, (_, index) =>
        refusedWith(listeners.mqttUrl, {
          clientId: `orders-storm-${from + index}`,
          username,
          password,
        }),
      ),
    );
  const outcomes = await storm(0, 30);
  const connected = outcomes.filter((outcome) => outcome === 'connected').length;
  t.equal(connected, 10, 'the burst (a quarter of the minute) connects, the rest does not');
  const refused = (outcomes: Array<number | string>) =>
    outcomes.map((outcome) => (outcome === 'connected' ? 'connected' : 'refused'));
  t.same(refused(await storm(30, 1)), ['refused'], 'the clock has not moved: still refused');
  clock.advance(1_500);
  t.same(
    refused(await storm(31, 2)).sort(),
    ['connected', 'refused'],
    'after 1.5 s one more token (40 a minute)',
  );
});

t.test('a client that stops acknowledging is disconnected; the others carry on', async (t) => {
  const { service, metric } = await startBroker(t, { MAX_INFLIGHT_PER_CLIENT: '50' });
  const stuck = await service('products');
  // mqtt.js sends PUBACK only when handleMessage calls back: this one never does.
  stuck.handleMessage = function neverAcknowledge() {};
  stuck.on('error', () => {});
  const healthy = await service('orders');
  await stuck.subscribeAsync('inventory/low-stock', { qos: 1 });
  await healthy.subscribeAsync('inventory/low-stock', { qos: 1 });
  let received = 0;
  healthy.on('message', () => received++);

  const inventory = await service('inventory');
  for (let i = 0; i < 200; i++) {
    await inventory.publishAsync(
      'inventory/low-stock',
      validMessage('inventory/low-stock').payload,
      {
        qos: 1,
      },
    );
  }
  // Judged at the broker: the stuck client reads nothing more, so it would not notice the close.
  t.ok(
    await eventually(
      async () => (await metric('mqtt_connected_clients', { kind: 'service' })) === 2,
      5_000,
    ),
    'the client with more than 50 unacknowledged messages was disconnected',
  );
  t.ok(await eventually(() => received === 200), 'the one that acknowledges got all 200');
  t.ok(healthy.connected && inventory.connected, 'and nobody else was disconnected');
  t.equal(await metric('mqtt_denied_total', { action: 'inflight', kind: 'service' }), 1);
});

t.test('a browser is disconnected when its access token expires', async (t) => {
  const clock = new ManualClock();
  const { broker, listeners, token, connect, service, metric } = await startBroker(
    t,
    {},
    { clock },
  );
  const inSeconds = (seconds: number) => Math.floor(clock.now() / 1_000) + seconds;
  const userId = '3f0d7f4e-0000-4000-8000-000000000010';
  const options = async (expiresAt: number, suffix: string) => ({
    clientId: `web-${userId}-${suffix}`,
    username: 'browser',
    password: await token(userId, expiresAt),
  });
  const expiring = await options(inSeconds(60), 'a');
  const shopper = await connect(listeners.mqttUrl, expiring);
  const later = await connect(listeners.mqttUrl, await options(inSeconds(600), 'b'));
  const orders = await service('orders');
  const onBroker = (clientId: string) =>
    (broker.aedes as unknown as { clients: Record<string, { closed: boolean }> }).clients[clientId];
  const closed = new Promise<void>((resolve) => shopper.once('close', () => resolve()));

  clock.advance(58_000);
  t.equal(onBroker(expiring.clientId)?.closed, false, 'before its expiry it stays');
  clock.advance(2_000);
  await closed;
  t.pass('at its expiry the broker closed the connection');
  t.ok(later.connected && orders.connected, 'a later token and a service are not affected');
  t.equal(await metric('mqtt_denied_total', { action: 'expired', kind: 'browser' }), 1);

  t.equal(
    await refusedWith(listeners.mqttUrl, expiring),
    4,
    'the expired token cannot connect again, even within the verifier’s clock tolerance',
  );
  const fresh = await connect(listeners.mqttUrl, await options(inSeconds(900), 'c'));
  t.ok(fresh.connected, 'a fresh token can');
  later.end(true);
  fresh.end(true);
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(
    await eventually(() => clock.pending === 0),
    'the timers of connections that ended are gone',
  );
});

t.test('a keep-alive longer than MAX_KEEPALIVE_SECONDS, or none, is refused', async (t) => {
  const { listeners, serviceOptions } = await startBroker(t, { MAX_KEEPALIVE_SECONDS: '30' });
  const withKeepalive = (keepalive: number) =>
    refusedWith(listeners.mqttUrl, { ...serviceOptions('orders'), keepalive });
  t.equal(await withKeepalive(30), 'connected', 'at the limit');
  // aedes answers CONNACK 6, a code MQTT 3.1.1 reserves; clients report it as a refusal.
  t.equal(await withKeepalive(31), 6, 'over it');
  t.equal(
    await withKeepalive(0),
    6,
    'none at all (a client that never pings would never be found dead)',
  );
});

t.test('messages are counted in by sender kind and out per delivery', async (t) => {
  const { service, browser, terminal, registerTerminal, metric } = await startBroker(t);
  const userId = '3f0d7f4e-0000-4000-8000-000000000011';
  const orderId = '5b1d3c2a-0000-4000-8000-0000000000a3';
  const topic = `orders/${userId}/${orderId}/status`;
  const shopper = new Inbox(await browser(userId));
  await shopper.client.subscribeAsync(`orders/${userId}/+/status`, { qos: 1 });
  const gateway = new Inbox(await service('gateway'));
  await gateway.client.subscribeAsync('orders/+/+/status', { qos: 1 });
  const orders = await service('orders');
  const sent = [validMessage(topic), validMessage(topic), validMessage(topic)];
  for (const message of sent) await orders.publishAsync(topic, message.payload, { qos: 1 });
  registerTerminal('shop-2');
  const device = await terminal('shop-2');
  // A payload the contract refuses is not counted in; a status nobody subscribes to is.
  await device.publishAsync('terminals/shop-2/requests', 'not json', { qos: 1 });
  const status = validMessage('terminals/shop-2/status');
  await device.publishAsync('terminals/shop-2/status', status.payload, { qos: 1, retain: true });
  const last = sent[2]!.marker;
  t.ok((await shopper.waitForMarker(last)) && (await gateway.waitForMarker(last)));

  t.equal(await metric('mqtt_messages_in_total', { kind: 'service' }), 3, 'three from orders');
  t.equal(await metric('mqtt_messages_in_total', { kind: 'terminal' }), 1, 'one from the till');
  t.equal(await metric('mqtt_messages_in_total', { kind: 'browser' }), 0);
  t.equal(await metric('mqtt_messages_out_total'), 6, 'each of the three to two subscribers');
});
