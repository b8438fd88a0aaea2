import net from 'node:net';
import t from 'tap';
import {
  eventually,
  nextMessage,
  orderStatus,
  refusedWith,
  startBroker,
  validMessage,
} from './helpers.js';
import { testServiceMqttCredentials } from '@mercado/common/testing';

t.test('who may connect: services, browsers with a valid token, nobody else', async (t) => {
  const { listeners, token, service, browser } = await startBroker(
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
    await payments.subscribeAsync('terminals/+/requests', { qos: 1 });
    registerTerminal('shop-1');
    const device = await terminal('shop-1');
    const card = '4111111111111111';
    const dropped = nextMessage(payments, 500);
    await device.publishAsync('terminals/shop-1/requests', `{"type":"x","card":"${card}"}`, {
      qos: 1,
    });
    await device.publishAsync('terminals/shop-1/requests', 'not json', { qos: 1 });
    t.equal(await dropped, undefined, 'nobody received them');
    t.ok(device.connected, 'the sender is still connected');
    const metrics = await metricsText();
    t.match(metrics, /mqtt_invalid_payloads_total\{reason="invalid_payload"[^}]*\} 1/);
    t.match(metrics, /mqtt_invalid_payloads_total\{reason="not_json"[^}]*\} 1/);
    t.notMatch(logs.text(), new RegExp(card), 'payloads never reach the log');
  },
);

t.test(
  'services’ payloads are checked by their receivers, or by the broker too with VALIDATE_PAYLOADS_FROM=all',
  async (t) => {
    for (const [setting, expected] of [
      ['untrusted', 'inventory/low-stock'],
      ['all', undefined],
    ] as const) {
      const { service, metric } = await startBroker(t, { VALIDATE_PAYLOADS_FROM: setting });
      const products = await service('products');
      await products.subscribeAsync('inventory/low-stock', { qos: 1 });
      const inventory = await service('inventory');
      const received = nextMessage(products, 500);
      await inventory.publishAsync('inventory/low-stock', '{"type":"x"}', { qos: 1 });
      t.equal(await received, expected, `${setting}: ${expected ? 'delivered' : 'dropped'}`);
      t.ok(inventory.connected);
      t.equal(
        await metric('mqtt_invalid_payloads_total', { reason: 'invalid_payload' }),
        expected ? 0 : 1,
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
  const { listeners } = await startBroker(t, { CONNECTIONS_PER_IP_PER_MINUTE: '40' });
  const { username, password } = testServiceMqttCredentials('orders');
  const outcomes = await Promise.all(
    Array.from({ length: 30 }, (_, index) =>
      refusedWith(listeners.mqttUrl, { clientId: `orders-storm-${index}`, username, password }),
    ),
  );
  const connected = outcomes.filter((outcome) => outcome === 'connected').length;
  t.equal(connected, 10, 'the burst (a quarter of the minute) connects, the rest does not');
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
