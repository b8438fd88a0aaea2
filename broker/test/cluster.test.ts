import { randomUUID } from 'node:crypto';
import t from 'tap';
import { connectMqtt, type MqttClient } from '@mercado/common/mqtt';
import { createMetrics } from '@mercado/common/metrics';
import {
  freePort,
  testBrokerCredentials,
  testServiceMqttCredentials,
} from '@mercado/common/testing';
import { captureLogs, startTestRedis } from '@mercado/common/testing';
import { Redis } from 'ioredis';
import type mqtt from 'mqtt';
import {
  createMercadoBroker,
  loadBrokerConfig,
  startListeners,
  type BrokerListeners,
  type MercadoBroker,
} from '../src/index.js';
import type { MqttServiceName } from '@mercado/common/contract';

const internalSecret = 'cluster-test-internal-secret-long-enough-0123456789';
const terminalSecret = 'terminal-secret-for-the-cluster-test';

interface Node {
  mqttUrl: string;
  httpUrl: string;
  broker: MercadoBroker;
  stop(): Promise<void>;
}

/** One broker node on Redis, on the given MQTT port (a restart comes back on the same one). */
async function startNode(
  t: { teardown(fn: () => unknown): void },
  redisUrl: string | undefined,
  mqttPort: number,
): Promise<Node> {
  const config = loadBrokerConfig({
    INTERNAL_SECRET: internalSecret,
    ...testBrokerCredentials(),
    JWKS_URL: 'http://127.0.0.1:1/jwks.json',
    MQTT_PORT: String(mqttPort),
    PORT: '0',
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  });
  const { log } = captureLogs('broker');
  const metrics = createMetrics('broker');
  const broker = await createMercadoBroker({
    config,
    log,
    metrics,
    verifyTerminal: async (_id, secret) => secret.toString() === terminalSecret,
  });
  const listeners: BrokerListeners = await startListeners(broker, { config, log, metrics });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await broker.close();
    await listeners.close();
  };
  t.teardown(stop);
  return { mqttUrl: listeners.mqttUrl, httpUrl: listeners.httpUrl, broker, stop };
}

function clients(t: { teardown(fn: () => unknown): void }) {
  const open: MqttClient[] = [];
  t.teardown(() => Promise.all(open.map((client) => client.endAsync(true))));
  return async function connect(url: string, options: mqtt.IClientOptions) {
    const client = await connectMqtt(url, { reconnectPeriod: 0, ...options });
    open.push(client);
    return client;
  };
}

const service = (name: MqttServiceName, clientId = `${name}-${randomUUID()}`) => ({
  clientId,
  ...testServiceMqttCredentials(name),
});

function orderStatus(orderId: string) {
  return JSON.stringify({
    type: 'order.status_changed',
    id: randomUUID(),
    orderId,
    status: 'paid',
    at: '2026-11-23T10:00:00.000Z',
  });
}

/** The order ids a client receives on orders/…/status, in arrival order. */
function collect(client: MqttClient): string[] {
  const seen: string[] = [];
  client.on('message', function onMessage(topic) {
    seen.push(topic.split('/')[2]!);
  });
  return seen;
}

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

const userId = '3f0d7f4e-0000-4000-8000-000000000001';
const topicOf = (orderId: string) => `orders/${userId}/${orderId}/status`;

t.test(
  'two nodes on one Redis are one broker: published on one, received on the other',
  async (t) => {
    const redis = await startTestRedis(t);
    const a = await startNode(t, redis.url, 0);
    const b = await startNode(t, redis.url, 0);
    const connect = clients(t);

    const subscriber = await connect(b.mqttUrl, service('gateway'));
    await subscriber.subscribeAsync('orders/+/+/status', { qos: 1 });
    const received = collect(subscriber);
    const publisher = await connect(a.mqttUrl, service('orders'));
    const sent = Array.from({ length: 20 }, () => randomUUID());
    for (const orderId of sent) {
      await publisher.publishAsync(topicOf(orderId), orderStatus(orderId), { qos: 1 });
    }
    t.ok(await waitFor(() => received.length >= 20), 'every message crossed to the other node');
    t.same(new Set(received), new Set(sent), 'the ones published, each once');
    t.equal(received.length, 20);

    // A terminal's retained presence on A is what a subscriber on B is told on subscribing.
    const terminal = await connect(a.mqttUrl, {
      clientId: 'terminal-t1',
      username: 'terminal:t1',
      password: terminalSecret,
    });
    await terminal.publishAsync(
      'terminals/t1/status',
      JSON.stringify({ type: 'terminal.status', status: 'online' }),
      { qos: 1, retain: true },
    );
    const watcher = await connect(b.mqttUrl, service('payments'));
    const retained = new Promise<string>((resolve) =>
      watcher.once('message', (topic, payload) => resolve(`${topic} ${payload.toString()}`)),
    );
    await watcher.subscribeAsync('terminals/+/status', { qos: 1 });
    t.equal(
      await retained,
      'terminals/t1/status {"type":"terminal.status","status":"online"}',
      'the retained status, through Redis',
    );

    // The same client id on the other node takes over: one connection per id in the cluster.
    const first = await connect(a.mqttUrl, service('orders', 'orders-singleton'));
    const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    await connect(b.mqttUrl, service('orders', 'orders-singleton'));
    await closed;
    t.pass('the older connection with that id, on the other node, was closed [MQTT-3.1.4-2]');
  },
);

t.test('a persistent session and retained messages survive a node restart', async (t) => {
  const redis = await startTestRedis(t);
  const a = await startNode(t, redis.url, 0);
  const bPort = await freePort();
  let b = await startNode(t, redis.url, bPort);
  const connect = clients(t);

  const session = { ...service('gateway', 'gateway-persistent'), clean: false };
  const subscriber = await connect(b.mqttUrl, session);
  await subscriber.subscribeAsync('orders/+/+/status', { qos: 1 });
  await subscriber.endAsync();

  const publisher = await connect(a.mqttUrl, service('orders'));
  const sent = Array.from({ length: 10 }, () => randomUUID());
  for (const orderId of sent) {
    await publisher.publishAsync(topicOf(orderId), orderStatus(orderId), { qos: 1 });
  }
  const terminal = await connect(a.mqttUrl, {
    clientId: 'terminal-t2',
    username: 'terminal:t2',
    password: terminalSecret,
  });
  await terminal.publishAsync(
    'terminals/t2/status',
    JSON.stringify({ type: 'terminal.status', status: 'online' }),
    { qos: 1, retain: true },
  );

  await b.stop();
  b = await startNode(t, redis.url, bPort);

  const resumed = await connectMqtt(b.mqttUrl, { reconnectPeriod: 0, ...session });
  t.teardown(() => resumed.endAsync(true));
  const received = collect(resumed);
  t.ok(await waitFor(() => new Set(received).size >= 10), 'the queued messages arrive');
  t.same(new Set(received), new Set(sent), 'all ten, none lost (duplicates would be allowed)');

  await a.stop();
  const fresh = await startNode(t, redis.url, 0);
  const watcher = await connect(fresh.mqttUrl, service('payments'));
  const retained = new Promise<string>((resolve) =>
    watcher.once('message', (topic, payload) => resolve(`${topic} ${payload.toString()}`)),
  );
  await watcher.subscribeAsync('terminals/+/status', { qos: 1 });
  t.equal(
    await retained,
    'terminals/t2/status {"type":"terminal.status","status":"online"}',
    'a retained message outlives every node that saw it',
  );
});

t.test(
  'a shared subscription spread over two nodes: each message to exactly one member',
  async (t) => {
    const redis = await startTestRedis(t);
    const a = await startNode(t, redis.url, 0);
    const b = await startNode(t, redis.url, 0);
    const connect = clients(t);

    const members = [
      await connect(a.mqttUrl, service('gateway')),
      await connect(a.mqttUrl, service('gateway')),
      await connect(b.mqttUrl, service('gateway')),
    ];
    const received = members.map(collect);
    for (const member of members) {
      const [granted] = await member.subscribeAsync('$share/gw/orders/+/+/status', { qos: 1 });
      t.equal(granted?.qos, 1, 'granted');
    }
    const publisher = await connect(a.mqttUrl, service('orders'));
    const sent = Array.from({ length: 300 }, () => randomUUID());
    await Promise.all(
      sent.map((orderId) =>
        publisher.publishAsync(topicOf(orderId), orderStatus(orderId), { qos: 1 }),
      ),
    );
    const all = () => received.flat();
    t.ok(await waitFor(() => all().length >= 300), 'all 300 delivered');
    await new Promise((resolve) => setTimeout(resolve, 200));
    t.equal(all().length, 300, 'no message went to two members (one per node would make 600)');
    t.same(new Set(all()), new Set(sent), 'each message once');
    t.ok(
      received.every((messages) => messages.length > 0),
      `every member got some: ${received.map((messages) => messages.length).join(', ')}`,
    );
    t.ok(
      received[2]!.length >= 100,
      `the member alone on node B got about half (round robin over nodes): ${received[2]!.length}`,
    );

    // B's only member leaves: from then on everything goes to A's members, nothing is lost.
    await members[2]!.endAsync();
    // Once node B has seen it leave (a message published in that very instant may still be given
    // to B, which has no one left to hand it to: see cluster.ts).
    const membersOn = async (node: Node) =>
      /^mqtt_shared_members{service="broker"} (\d+)$/m.exec(
        await (await fetch(`${node.httpUrl}/metrics`)).text(),
      )?.[1];
    let bMembers: string | undefined;
    t.ok(
      await waitFor(() => {
        void membersOn(b).then((count) => (bMembers = count));
        return bMembers === '0';
      }),
      'node B saw its member leave',
    );
    const more = Array.from({ length: 100 }, () => randomUUID());
    await Promise.all(
      more.map((orderId) =>
        publisher.publishAsync(topicOf(orderId), orderStatus(orderId), { qos: 1 }),
      ),
    );
    const onA = () => [...received[0]!, ...received[1]!];
    t.ok(
      await waitFor(() => more.every((orderId) => onA().includes(orderId))),
      'the node with no member left is no longer chosen',
    );
    const metrics = await (await fetch(`${a.httpUrl}/metrics`)).text();
    t.match(
      metrics,
      /^mqtt_shared_members{service="broker"} 2$/m,
      'node A reports its two members',
    );
  },
);

t.test(
  'an invalid payload is dropped on the node that received it: it never reaches Redis, the other node or any subscriber',
  async (t) => {
    const redis = await startTestRedis(t);
    const a = await startNode(t, redis.url, 0);
    const b = await startNode(t, redis.url, 0);
    const connect = clients(t);

    // Everything that crosses Redis between nodes is a pub/sub message on some channel.
    const watcher = new Redis(redis.url);
    t.teardown(() => watcher.disconnect());
    const onRedis: Buffer[] = [];
    watcher.on('pmessageBuffer', (_pattern: Buffer, _channel: Buffer, message: Buffer) => {
      onRedis.push(message);
    });
    await watcher.psubscribe('*');
    // What each node's emitter carries, whatever the topic: what any subscriber could be sent.
    const onEmitters: string[] = [];
    for (const node of [a, b]) {
      node.broker.aedes.subscribe(
        '#',
        function heard(packet: { topic: string; payload: Buffer | string }, done: () => void) {
          onEmitters.push(`${packet.topic} ${packet.payload.toString()}`);
          done();
        },
        () => undefined,
      );
    }
    // The widest filter the contract grants anyone over terminals' requests, on both nodes.
    const subscribers = [
      await connect(a.mqttUrl, service('payments')),
      await connect(b.mqttUrl, service('payments')),
    ];
    const delivered: string[][] = subscribers.map(() => []);
    for (const [index, subscriber] of subscribers.entries()) {
      subscriber.on('message', (_topic, payload) => delivered[index]!.push(payload.toString()));
      await subscriber.subscribeAsync('terminals/+/requests', { qos: 1 });
    }

    const terminal = await connect(a.mqttUrl, {
      clientId: 'terminal-t3',
      username: 'terminal:t3',
      password: terminalSecret,
    });
    const invalidMarker = randomUUID();
    await terminal.publishAsync(
      'terminals/t3/requests',
      JSON.stringify({ type: 'terminal.payment_requested', requestId: invalidMarker }),
      { qos: 1 },
    );
    t.pass('the invalid request was acknowledged (PUBACK)');
    // A valid request after it, from the same connection: once it has arrived everywhere, the
    // invalid one would have too.
    const validMarker = randomUUID();
    await terminal.publishAsync(
      'terminals/t3/requests',
      JSON.stringify({
        type: 'terminal.status_requested',
        requestId: validMarker,
        ofRequestId: validMarker,
      }),
      { qos: 1 },
    );
    t.ok(
      await waitFor(
        () =>
          onRedis.some((message) => message.includes(validMarker)) &&
          onEmitters.filter((heard) => heard.includes(validMarker)).length === 2 &&
          delivered.every((payloads) => payloads.some((payload) => payload.includes(validMarker))),
      ),
      'the valid request crossed Redis and reached both nodes and both subscribers',
    );
    t.notOk(
      onRedis.some((message) => message.includes(invalidMarker)),
      'the invalid one never reached Redis',
    );
    t.same(
      onEmitters.filter((heard) => heard.includes(invalidMarker)),
      [],
      'nor either node, under any topic',
    );
    t.same(
      delivered.map((payloads) => payloads.filter((payload) => payload.includes(invalidMarker))),
      [[], []],
      'nor any subscriber',
    );
    t.ok(terminal.connected, 'the sender is still connected');
    const metrics = await (await fetch(`${a.httpUrl}/metrics`)).text();
    t.match(metrics, /^mqtt_invalid_payloads_total\{reason="invalid_payload"[^}]*\} 1$/m);
  },
);

t.test(
  'without Redis a node keeps everything in memory: a restart loses the session',
  async (t) => {
    const port = await freePort();
    let node = await startNode(t, undefined, port);
    const connect = clients(t);
    const session = { ...service('gateway', 'gateway-memory'), clean: false };
    const subscriber = await connect(node.mqttUrl, session);
    await subscriber.subscribeAsync('orders/+/+/status', { qos: 1 });
    await subscriber.endAsync();
    await node.stop();
    node = await startNode(t, undefined, port);
    const resumed = await connect(node.mqttUrl, session);
    const publisher = await connect(node.mqttUrl, service('orders'));
    const received = collect(resumed);
    const orderId = randomUUID();
    await publisher.publishAsync(topicOf(orderId), orderStatus(orderId), { qos: 1 });
    t.notOk(await waitFor(() => received.length > 0, 500), 'the subscription did not survive');
  },
);
