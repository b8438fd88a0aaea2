import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Aedes } from 'aedes';
import t from 'tap';
import { topics } from '@mercado/common/contract';
import {
  connectMqtt,
  consumeTopic,
  createServiceMqttClient,
  endMqtt,
  type ConsumedMessage,
  type MqttClient,
} from '@mercado/common/mqtt';
import { captureLogs, testMqttPassword } from '@mercado/common/testing';
import type { MqttServiceName } from '@mercado/common/contract';
import { eventually, startBroker, validMessage, type TestBroker } from './helpers.js';

/**
 * The kit's consumer (services' MQTT entry points) against Mercado's broker: a service's client
 * made as runDatabaseService makes it, consuming what the contract lets it read.
 */

async function serviceClient(
  t: { teardown(fn: () => unknown): void },
  broker: TestBroker,
  service: MqttServiceName,
) {
  const logs = captureLogs(service);
  const mqtt = createServiceMqttClient({
    service,
    config: { MQTT_URL: broker.listeners.mqttUrl, MQTT_PASSWORD: testMqttPassword(service) },
    log: logs.log,
  })!;
  t.teardown(() => mqtt.endAsync(true));
  return { mqtt, logs };
}

async function subscribedOnce(client: { logs: ReturnType<typeof captureLogs> }, count = 1) {
  return eventually(
    () =>
      client.logs.lines.filter((line) => line.msg === 'mqtt consumer subscribed').length >= count,
    10_000,
  );
}

const publishTo = async (mqtt: MqttClient, topic: string, payload: string) =>
  mqtt.publishAsync(topic, payload, { qos: 1 });

t.test(
  'a consumer hears its topic through the contract’s filter, hands over parsed messages, drops what the contract refuses, and survives its handler’s errors',
  async (t) => {
    const broker = await startBroker(t);
    const orders = await serviceClient(t, broker, 'orders');
    const handled: Array<ConsumedMessage<'paymentResults'>> = [];
    const consumer = consumeTopic({
      mqtt: orders.mqtt,
      log: orders.logs.log,
      topic: 'paymentResults',
      handle(message) {
        handled.push(message);
        if (message.value.requestId === 'throw') throw new Error('handler threw');
        if (message.value.requestId === 'reject') return Promise.reject(new Error('rejected'));
        return undefined;
      },
    });
    t.equal(consumer.filter, 'payments/results/+', 'the filter from the contract’s pattern');
    t.equal(consumer.name, 'consumer payments/results/+', 'named in the shutdown log');
    // A second consumer on the same client: each message goes to the one whose filter it matches.
    const lowStock: string[] = [];
    consumeTopic({
      mqtt: orders.mqtt,
      log: orders.logs.log,
      topic: 'lowStock',
      handle: ({ value }) => void lowStock.push(value.id),
    });
    t.ok(await subscribedOnce(orders, 2), 'both subscribed');
    t.throws(
      () =>
        consumeTopic({
          mqtt: orders.mqtt,
          log: orders.logs.log,
          topic: 'paymentResults',
          handle() {},
        }),
      /payments\/results\/\+ is consumed already/,
      'one consumer per filter and client',
    );

    const payments = await broker.service('payments');
    const orderId = randomUUID();
    const topic = topics.paymentResults.build({ orderId });
    const good = validMessage(topic);
    const result = JSON.parse(good.payload) as Record<string, unknown>;
    const secretField = 'card-number-like-4242424242424242';
    await publishTo(payments, topic, JSON.stringify({ ...result, requestId: 'throw' }));
    await publishTo(payments, topic, JSON.stringify({ ...result, requestId: 'reject' }));
    // Services' payloads are the receiver's to check (VALIDATE_PAYLOADS_FROM=untrusted).
    await publishTo(payments, topic, JSON.stringify({ ...result, amountMinor: secretField }));
    await publishTo(payments, topic, good.payload);
    const inventory = await broker.service('inventory');
    const lowStockTopic = topics.lowStock.build();
    const lowStockEvent = validMessage(lowStockTopic);
    await publishTo(inventory, lowStockTopic, lowStockEvent.payload);

    t.ok(await eventually(() => handled.length === 3 && lowStock.length === 1, 10_000));
    t.same(
      handled.map((message) => [message.topic, message.params, message.value.requestId]),
      [
        [topic, { orderId }, 'throw'],
        [topic, { orderId }, 'reject'],
        [topic, { orderId }, 'idem-1'],
      ],
      'in order, each with its parameters; the refused one never reaches the handler',
    );
    t.same(handled[2], { topic, params: { orderId }, value: result, retained: false });
    t.same(lowStock, [lowStockEvent.marker], 'the other consumer’s message went to it alone');
    const lines = orders.logs.lines;
    t.match(
      lines.filter((line) => line.msg === 'mqtt message handler failed'),
      [
        {
          level: 'error',
          topic,
          eventId: good.marker,
          requestId: 'throw',
          err: { message: 'handler threw' },
        },
        {
          level: 'error',
          topic,
          eventId: good.marker,
          requestId: 'reject',
          err: { message: 'rejected' },
        },
      ],
      'handler errors are logged with ids, and the process goes on',
    );
    t.match(
      lines.find((line) => line.msg === 'mqtt message refused by the contract; dropped'),
      { level: 'warn', topic, reason: 'invalid_payload: amountMinor invalid_type' },
    );
    t.notOk(orders.logs.text().includes(secretField), 'never a payload');

    await consumer.stop();
    await publishTo(payments, topic, validMessage(topic).payload);
    await publishTo(inventory, lowStockTopic, validMessage(lowStockTopic).payload);
    t.ok(await eventually(() => lowStock.length === 2, 10_000), 'the client still hears');
    t.equal(handled.length, 3, 'a stopped consumer hands nothing over');
  },
);

t.test(
  'a shared consumer: the replicas of a group share the stream, each message handled once',
  async (t) => {
    const broker = await startBroker(t);
    const replicas = await Promise.all([1, 2].map(() => serviceClient(t, broker, 'payments')));
    const handled = new Map<string, number>();
    for (const [index, replica] of replicas.entries()) {
      const consumer = consumeTopic({
        mqtt: replica.mqtt,
        log: replica.logs.log,
        topic: 'paymentRequests',
        share: 'payments',
        handle({ value }) {
          handled.set(value.requestId, index);
        },
      });
      t.equal(consumer.filter, '$share/payments/payments/requests');
    }
    for (const replica of replicas) t.ok(await subscribedOnce(replica));
    const gateway = await broker.service('gateway');
    const topic = topics.paymentRequests.build();
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const { payload, marker } = validMessage(topic);
      sent.push(marker);
      await publishTo(gateway, topic, payload);
    }
    t.ok(await eventually(() => handled.size === 20, 10_000));
    t.same([...handled.keys()].sort(), sent.sort(), 'every request, once');
    t.same(new Set(handled.values()), new Set([0, 1]), 'both replicas took part');
    for (const replica of replicas) {
      t.notOk(replica.logs.text().includes('4111111111111111'), 'no card in any log');
    }
  },
);

t.test('stop waits for the handler under way', async (t) => {
  const broker = await startBroker(t);
  const gatewayService = await serviceClient(t, broker, 'gateway');
  let finish: () => void = () => undefined;
  let started = false;
  let finished = false;
  const consumer = consumeTopic({
    mqtt: gatewayService.mqtt,
    log: gatewayService.logs.log,
    topic: 'lowStock',
    async handle() {
      started = true;
      await new Promise<void>((resolve) => (finish = resolve));
      finished = true;
    },
  });
  t.ok(await subscribedOnce(gatewayService));
  const inventory = await broker.service('inventory');
  const topic = topics.lowStock.build();
  await publishTo(inventory, topic, validMessage(topic).payload);
  t.ok(await eventually(() => started, 10_000));
  let stopped = false;
  const stopping = consumer.stop().then(() => (stopped = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(stopped, 'not while the handler runs');
  finish();
  await stopping;
  t.ok(finished, 'stopped once it was done');
});

t.test(
  'at most `concurrency` handlers run at once; the others wait in arrival order, and stop handles them all',
  async (t) => {
    const broker = await startBroker(t);
    const gatewayService = await serviceClient(t, broker, 'gateway');
    const holds: Array<() => void> = [];
    const started: string[] = [];
    let running = 0;
    let most = 0;
    const consumer = consumeTopic({
      mqtt: gatewayService.mqtt,
      log: gatewayService.logs.log,
      topic: 'lowStock',
      concurrency: 3,
      async handle({ value }) {
        started.push(value.id);
        most = Math.max(most, ++running);
        await new Promise<void>((resolve) => holds.push(resolve));
        running--;
      },
    });
    t.ok(await subscribedOnce(gatewayService));
    let arrived = 0;
    gatewayService.mqtt.on('message', () => arrived++);
    const inventory = await broker.service('inventory');
    const topic = topics.lowStock.build();
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      const message = validMessage(topic);
      sent.push(JSON.parse(message.payload).id);
      await publishTo(inventory, topic, message.payload);
    }
    t.ok(await eventually(() => arrived === 10, 10_000), 'all ten arrived');
    t.equal(holds.length, 3, 'three started, seven wait');
    // Stopped now: what arrived is handled all the same.
    const stopping = consumer.stop();
    for (let released = 0; released < 10; released++) {
      await eventually(() => holds.length > released, 10_000);
      t.ok(running <= 3, 'never more than three at once');
      holds[released]!();
    }
    await stopping;
    t.equal(most, 3);
    t.same(started, sent, 'all handled, in arrival order');
  },
);

t.test(
  'endMqtt: a publish the broker never acknowledges holds the end for its grace only; one it acknowledges is waited for',
  async (t) => {
    // A broker that takes publishes and never answers them (its authorizePublish never calls back).
    const held: Array<() => void> = [];
    const aedes = await Aedes.createBroker({
      authorizePublish: (_client, _packet, callback) => void held.push(() => callback(null)),
    });
    const server = net.createServer((socket) => aedes.handle(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise((resolve) => server.close(resolve));
    });
    const url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;

    const stuck = await connectMqtt(url, { clientId: `stuck-${randomUUID()}`, reconnectPeriod: 0 });
    void stuck.publishAsync('a/b', 'x', { qos: 1 }).catch(() => undefined);
    await eventually(() => held.length === 1, 10_000);
    await endMqtt(stuck, 200);
    t.ok(stuck.disconnected, 'ended although the PUBACK never came');

    const acked = await connectMqtt(url, { clientId: `acked-${randomUUID()}`, reconnectPeriod: 0 });
    const published = acked.publishAsync('a/b', 'y', { qos: 1 });
    await eventually(() => held.length === 2, 10_000);
    let ended = false;
    const ending = endMqtt(acked, 60_000).then(() => (ended = true));
    await new Promise((resolve) => setImmediate(resolve));
    t.notOk(ended, 'waits while the PUBACK may still come');
    held[1]!();
    await published;
    await ending;
    t.ok(acked.disconnected, 'ended once acknowledged');
  },
);
