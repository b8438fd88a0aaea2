import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { connectMqtt, createServiceMqttClient } from '@mercado/common/mqtt';
import { createMetrics, type Metrics } from '@mercado/common/metrics';
import { createDb, type Knex } from '@mercado/common/db';
import {
  captureLogs,
  createTestDatabase,
  testBrokerCredentials,
  testServiceMqttCredentials,
} from '@mercado/common/testing';
import { createMercadoBroker, loadBrokerConfig } from '@mercado/broker/testing';
import { inventoryOutbox, lowStockTopic } from '../src/app.js';
import { insertOutboxMessages, type OutboxMessage } from '../src/data/outbox-repository.js';
import { lowStockMessages } from '../src/domain/low-stock.js';
import { as, internalSecret, startInventory, type InventoryHarness } from './helpers.js';

interface TestContext {
  teardown(fn: () => unknown): void;
}

/**
 * The real Mercado broker, in this process. `open` adds a TCP listener (as the broker's own
 * listeners.ts does): a second one lets a test subscribe before the relay can reach the first.
 */
async function startBroker(t: TestContext) {
  const config = loadBrokerConfig({
    INTERNAL_SECRET: internalSecret,
    ...testBrokerCredentials(),
    JWKS_URL: 'http://127.0.0.1:1/jwks.json',
    MQTT_PORT: '0',
    PORT: '0',
  });
  const logs = captureLogs('broker');
  const metrics = createMetrics('broker');
  const broker = await createMercadoBroker({ config, log: logs.log, metrics });
  const servers: net.Server[] = [];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    const stopped = servers.map((server) => new Promise((resolve) => server.close(resolve)));
    await broker.close();
    await Promise.all(stopped);
  };
  t.teardown(close);
  return {
    logs,
    metrics,
    close,
    async open(port = 0): Promise<string> {
      const server = net.createServer({ noDelay: true }, (socket) => broker.handle(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
      servers.push(server);
      return `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    },
  };
}

interface Received {
  topic: string;
  payload: Record<string, unknown>;
}

/** A service that consumes low-stock events (products, as the contract allows). */
async function subscribeLowStock(t: TestContext, url: string): Promise<Received[]> {
  const client = await connectMqtt(url, {
    clientId: `products-${randomUUID()}`,
    ...testServiceMqttCredentials('products'),
    reconnectPeriod: 0,
  });
  t.teardown(() => client.endAsync(true));
  const received: Received[] = [];
  client.on('message', function collect(topic, payload) {
    received.push({ topic, payload: JSON.parse(payload.toString('utf8')) });
  });
  await client.subscribeAsync(lowStockTopic, { qos: 1 });
  return received;
}

/** The inventory service's own wiring (as main.ts runs it), stopped as its shutdown would. */
/**
 * The relay as inventory's main starts it, on the service's runtime: its MQTT client, or (for a
 * second replica on the same database) a client of its own, as that replica's runtime would have.
 */
function startRelay(t: TestContext, inventory: InventoryHarness, replica = false) {
  const metrics = createMetrics('inventory');
  const { config, db, logs } = inventory;
  const mqtt = replica
    ? createServiceMqttClient({ service: 'inventory', config, log: logs.log })
    : inventory.mqtt;
  const task = inventoryOutbox.startRelay({ config, db, log: logs.log, metrics, mqtt });
  if (!task || !mqtt) throw new Error('MQTT_URL is not set');
  t.teardown(async function stopRelay() {
    await task.stop();
    if (replica) await mqtt.endAsync(true);
  });
  return { relay: task.relay, mqtt, metrics };
}

/**
 * A broker with a service subscribed to low-stock events, and an inventory service (`env` over
 * its defaults) whose MQTT_URL is that broker; its relay is for the test to start.
 */
async function startWithSubscriber(t: TestContext, env: Record<string, string> = {}) {
  const broker = await startBroker(t);
  const url = await broker.open();
  const received = await subscribeLowStock(t, url);
  const inventory = await startInventory(t, { MQTT_URL: url, ...env });
  return { received, inventory };
}

async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function outboxRows(db: Knex) {
  const rows: Array<{
    id: number;
    topic: string;
    payload: Record<string, unknown>;
    created_at: Date;
    sent_at: Date | null;
    failed_at: Date | null;
    failure_reason: string | null;
  }> = await db('outbox').orderBy('id').select('*');
  return rows;
}

const allSent = async (db: Knex, count: number) => {
  const rows = await outboxRows(db);
  return rows.length === count && rows.every((row) => row.sent_at !== null) && rows;
};

async function metricValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  return values.find((value) =>
    Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted),
  )?.value;
}

async function putStock(
  inventory: InventoryHarness,
  sellerId: string,
  productId: string,
  body: Record<string, unknown>,
) {
  const response = await inventory.call('PUT', `/api/inventory/${productId}/north`, {
    identity: as.seller(sellerId),
    body,
  });
  return response.status;
}

/** Low-stock events of `count` new products, each one's stock falling from 10 to 2 (threshold 5). */
function lowStockEvents(count: number): OutboxMessage[] {
  return lowStockMessages(
    Array.from({ length: count }, () => ({
      productId: randomUUID(),
      sellerId: randomUUID(),
      region: 'north',
      availableBefore: 10,
      thresholdBefore: 5,
      availableAfter: 2,
      thresholdAfter: 5,
    })),
  );
}

/** Low-stock events queued straight into the outbox, as a stock change's transaction does. */
async function queueLowStock(db: Knex, count: number): Promise<OutboxMessage[]> {
  const messages = lowStockEvents(count);
  await db.transaction((trx) => insertOutboxMessages(trx, messages));
  return messages;
}

t.test(
  'a stock change that makes stock low is published once to subscribing services and marked sent',
  async (t) => {
    // Polling once an hour: the outbox trigger's notification is what wakes the relay.
    const { received, inventory } = await startWithSubscriber(t, {
      OUTBOX_POLL_INTERVAL_MS: '3600000',
    });
    const { relay, mqtt, metrics } = startRelay(t, inventory);
    await eventually('the relay to connect and listen', async () => {
      const listening = await inventory.db.raw<{ rows: unknown[] }>(
        `select 1 from pg_stat_activity
          where datname = current_database() and query = 'listen outbox_inserted'`,
      );
      return mqtt.connected && listening.rows.length === 1;
    });
    const sellerId = randomUUID();
    const { id: productId } = inventory.products.add(sellerId);

    t.equal(
      await putStock(inventory, sellerId, productId, {
        onHand: 10,
        reason: 'count',
        lowStockThreshold: 5,
      }),
      200,
    );
    t.equal(await putStock(inventory, sellerId, productId, { delta: -6, reason: 'broken' }), 200);
    t.equal(await putStock(inventory, sellerId, productId, { delta: -1, reason: 'lost' }), 200);

    const [row] = await eventually('the event to be marked sent', () => allSent(inventory.db, 1));
    await eventually('the event to arrive', () => received.length > 0);
    await pause(300);
    t.same(
      row,
      {
        id: row!.id,
        topic: 'inventory/low-stock',
        payload: {
          type: 'inventory.low_stock_reached',
          id: row!.payload.id,
          productId,
          sellerId,
          region: 'north',
          available: 4,
          threshold: 5,
          at: row!.payload.at,
        },
        created_at: row!.created_at,
        sent_at: row!.sent_at,
        failed_at: null,
        failure_reason: null,
      },
      'sent once acknowledged; never set aside',
    );
    t.ok(row!.sent_at instanceof Date, 'sent_at is set');
    t.same(received, [{ topic: 'inventory/low-stock', payload: row!.payload }], 'exactly once');
    t.same(relay.stats, { published: 1, failures: 0, dead: 0, pending: 0, retrying: false });
    t.equal(await metricValue(metrics, 'outbox_published_total', { table: 'outbox' }), 1);
    t.equal(await metricValue(metrics, 'outbox_pending', { table: 'outbox' }), 0);
    t.notOk(inventory.logs.text().includes(String(row!.payload.id)), 'the payload is never logged');
  },
);

t.test(
  'while the broker is down events wait unsent and the relay keeps retrying; once it is back on the same port they are all delivered and marked sent',
  async (t) => {
    const first = await startBroker(t);
    const url = await first.open();
    const port = Number(new URL(url).port);
    const inventory = await startInventory(t, { MQTT_URL: url, OUTBOX_POLL_INTERVAL_MS: '200' });
    const { relay, mqtt, metrics } = startRelay(t, inventory);
    await eventually('the relay to connect', () => mqtt.connected);

    await first.close();
    await eventually('the relay to see the broker gone', () => !mqtt.connected);
    const sellerId = randomUUID();
    for (let i = 0; i < 3; i++) {
      const { id } = inventory.products.add(sellerId);
      t.equal(
        await putStock(inventory, sellerId, id, {
          onHand: 1,
          reason: 'count',
          lowStockThreshold: 5,
        }),
        200,
        'stock changes go on without the broker',
      );
    }
    await eventually('several failed attempts', () => relay.stats.failures >= 3);
    const failures = relay.stats.failures;
    await eventually('yet another attempt', () => relay.stats.failures > failures);
    const waiting = await outboxRows(inventory.db);
    t.equal(waiting.length, 3);
    t.same(
      waiting.map((row) => [row.sent_at, row.failed_at]),
      [
        [null, null],
        [null, null],
        [null, null],
      ],
      'nothing is marked sent or set aside while the broker is down',
    );
    t.equal(relay.stats.retrying, true);
    t.equal(relay.stats.pending, 3);
    t.equal(await metricValue(metrics, 'outbox_pending', { table: 'outbox' }), 3);
    t.equal(
      await metricValue(metrics, 'outbox_publish_failures_total', { table: 'outbox' }),
      relay.stats.failures,
    );

    // A new broker: the subscriber comes in through a second listener first, so it is in place
    // before the relay (reconnecting every second) can reach the original port.
    const second = await startBroker(t);
    const received = await subscribeLowStock(t, await second.open());
    t.equal(await second.open(port), url, 'the same address as before');

    const rows = await eventually('every event to be marked sent', () => allSent(inventory.db, 3));
    await eventually('every event to arrive', () => received.length >= 3);
    await pause(300);
    t.same(
      received.map((message) => message.payload).sort(byId),
      rows.map((row) => row.payload).sort(byId),
      'each waiting event delivered once',
    );
    t.same(
      rows.map((row) => row.failed_at),
      [null, null, null],
    );
    t.equal(relay.stats.retrying, false);
    t.equal(relay.stats.published, 3);
    const relayLines = inventory.logs.lines.filter((line) =>
      String(line.msg).startsWith('outbox relay'),
    );
    t.same(
      relayLines.filter((line) => line.level !== 'debug').map((line) => [line.level, line.msg]),
      [
        ['warn', 'outbox relay failed; retrying with backoff'],
        ['info', 'outbox relay recovered'],
      ],
      'one warning for the outage, one line for the recovery',
    );
  },
);

function paymentIntent() {
  return {
    type: 'payment.intent_created',
    id: randomUUID(),
    orderId: randomUUID(),
    userId: randomUUID(),
    amountMinor: 1999,
    currency: 'EUR',
    expiresAt: '2026-11-23T10:00:00.000Z',
  };
}

function byId(a: Record<string, unknown>, b: Record<string, unknown>): number {
  return String(a.id).localeCompare(String(b.id));
}

t.test('two relays on one database publish each event once', async (t) => {
  const { received, inventory } = await startWithSubscriber(t, {
    OUTBOX_BATCH_SIZE: '10',
    OUTBOX_POLL_INTERVAL_MS: '50',
  });
  const a = startRelay(t, inventory);
  const b = startRelay(t, inventory, true);
  await eventually('both relays to connect', () => a.mqtt.connected && b.mqtt.connected);

  const queued: OutboxMessage[] = [];
  for (let i = 0; i < 3; i++) queued.push(...(await queueLowStock(inventory.db, 100)));
  await eventually('every event to be marked sent', () => allSent(inventory.db, 300));
  await eventually('every event to arrive', () => received.length >= 300);
  await pause(300);

  const ids = received.map((message) => message.payload.id);
  t.equal(ids.length, 300, 'as many messages as events');
  t.equal(new Set(ids).size, 300, 'no event twice');
  t.same(
    [...ids].sort(),
    queued.map((message) => (message.payload as { id: string }).id).sort(),
    'every event',
  );
  t.equal(a.relay.stats.published + b.relay.stats.published, 300);
  t.ok(
    a.relay.stats.published > 0 && b.relay.stats.published > 0,
    `both relays took part (${a.relay.stats.published} + ${b.relay.stats.published})`,
  );
});

t.test(
  'rows that can never be published are set aside with a reason and do not hold back later rows',
  async (t) => {
    const { received, inventory } = await startWithSubscriber(t);
    const [first, last] = lowStockEvents(2) as [OutboxMessage, OutboxMessage];
    const valid = first.payload as Record<string, unknown>;
    const marker = 'do-not-log-this-0f7c';
    // Rows the insert helper would refuse, as hand-written SQL or an older version could leave them.
    await inventory.db('outbox').insert(
      [
        { topic: lowStockTopic, payload: first.payload },
        { topic: lowStockTopic, payload: { ...valid, id: randomUUID(), available: -1 } },
        { topic: 'inventory/restocked', payload: { ...valid, id: randomUUID() } },
        { topic: 'payments/intents', payload: paymentIntent() },
        { topic: lowStockTopic, payload: { ...valid, id: randomUUID(), note: marker } },
        { topic: lowStockTopic, payload: last.payload },
      ].map((row) => ({ topic: row.topic, payload: JSON.stringify(row.payload) })),
    );
    const { relay, metrics } = startRelay(t, inventory);

    await eventually('the last row to be sent', async () => {
      const rows = await outboxRows(inventory.db);
      return rows.at(-1)?.sent_at !== null;
    });
    await eventually('both valid events to arrive', () => received.length >= 2);
    await pause(300);
    t.same(
      (await outboxRows(inventory.db)).map((row) => ({
        topic: row.topic,
        sent: row.sent_at !== null,
        failed: row.failed_at !== null,
        reason: row.failure_reason,
      })),
      [
        { topic: 'inventory/low-stock', sent: true, failed: false, reason: null },
        {
          topic: 'inventory/low-stock',
          sent: false,
          failed: true,
          reason: 'invalid_payload: available too_small',
        },
        { topic: 'inventory/restocked', sent: false, failed: true, reason: 'unknown_topic' },
        { topic: 'payments/intents', sent: false, failed: true, reason: 'not_allowed' },
        {
          topic: 'inventory/low-stock',
          sent: false,
          failed: true,
          reason: 'invalid_payload: (root) unknown_field',
        },
        { topic: 'inventory/low-stock', sent: true, failed: false, reason: null },
      ],
    );
    t.same(
      received,
      [
        { topic: lowStockTopic, payload: first.payload },
        { topic: lowStockTopic, payload: last.payload },
      ],
      'the valid events, in order',
    );
    t.same(relay.stats, { published: 2, failures: 0, dead: 4, pending: 0, retrying: false });
    for (const [reason, count] of [
      ['invalid_payload', 2],
      ['unknown_topic', 1],
      ['not_allowed', 1],
    ] as const) {
      t.equal(
        await metricValue(metrics, 'outbox_dead_total', { table: 'outbox', reason }),
        count,
        `dead rows counted: ${reason}`,
      );
    }
    const setAside = inventory.logs.lines.filter(
      (line) => line.msg === 'outbox row can never be published; set aside as failed',
    );
    t.same(
      setAside.map((line) => [line.level, line.reason]),
      [
        ['error', 'invalid_payload: available too_small'],
        ['error', 'unknown_topic'],
        ['error', 'not_allowed'],
        ['error', 'invalid_payload: (root) unknown_field'],
      ],
    );
    t.notOk(inventory.logs.text().includes(marker), 'no payload in the logs');
    t.notOk(
      inventory.logs.text().includes('mqtt connection lost'),
      'the broker never had to close the connection',
    );
  },
);

t.test('without MQTT_URL the outbox is not relayed, and the service says so once', async (t) => {
  const inventory = await startInventory(t);
  t.equal(inventory.mqtt, undefined, 'no MQTT client either');
  const task = inventoryOutbox.startRelay({
    config: inventory.config,
    db: inventory.db,
    log: inventory.logs.log,
    metrics: createMetrics('inventory'),
    mqtt: inventory.mqtt,
  });
  t.equal(task, undefined);
  await queueLowStock(inventory.db, 1);
  await pause(200);
  t.same(
    (await outboxRows(inventory.db)).map((row) => row.sent_at),
    [null],
  );
  t.same(
    inventory.logs.lines
      .filter((line) => String(line.msg).includes('outbox'))
      .map((line) => [line.level, line.msg]),
    [
      [
        'warn',
        'MQTT_URL is not set: the outbox is not relayed, events stay unsent until a replica with MQTT_URL runs',
      ],
    ],
  );
});

t.test(
  'the outbox insert checks each message against the contract in the caller’s transaction: one it refuses rolls the change back',
  async (t) => {
    const inventory = await startInventory(t);
    const [valid] = lowStockEvents(1) as [OutboxMessage];
    const payload = valid.payload as Record<string, unknown>;
    const refused: Array<[string, OutboxMessage, string]> = [
      [
        'a payload its schema refuses',
        { topic: 'lowStock', payload: { ...payload, available: -1 } } as OutboxMessage,
        'invalid_payload: available too_small',
      ],
      [
        'a topic inventory may not publish',
        { topic: 'paymentIntents', payload: paymentIntent() } as OutboxMessage,
        'not_allowed',
      ],
      [
        'a topic parameter that is not one level',
        {
          topic: 'paymentResults',
          params: { orderId: 'a/b' },
          payload: {},
        } as unknown as OutboxMessage,
        'parameter orderId contains a level separator',
      ],
    ];
    for (const [what, message, reason] of refused) {
      await t.rejects(
        inventory.db.transaction(async (trx) => {
          await trx('outbox').insert({ topic: 'written/first', payload: '{}' });
          await insertOutboxMessages(trx, [valid, message]);
        }),
        { message: new RegExp(`^outbox message on ${message.topic} refused: .*${reason}`) },
        what,
      );
    }
    t.same(await outboxRows(inventory.db), [], 'nothing was written, not even the valid ones');

    await inventory.db.transaction((trx) => insertOutboxMessages(trx, [valid]));
    t.match(await outboxRows(inventory.db), [
      { topic: 'inventory/low-stock', payload: valid.payload, sent_at: null, failed_at: null },
    ]);
  },
);

/** The outbox as Postgres describes it: columns, constraints, indexes, triggers, the function. */
async function outboxSchema(db: Knex) {
  const query = async (sql: string) => (await db.raw<{ rows: unknown[] }>(sql)).rows;
  return {
    columns: await query(`
      select column_name, data_type, is_nullable, column_default, is_identity, identity_generation
        from information_schema.columns where table_name = 'outbox' order by ordinal_position`),
    constraints: await query(`
      select conname, pg_get_constraintdef(oid) as definition from pg_constraint
       where conrelid = 'outbox'::regclass order by conname`),
    indexes: await query(
      `select indexname, indexdef from pg_indexes where tablename = 'outbox' order by indexname`,
    ),
    triggers: await query(`
      select tgname, pg_get_triggerdef(oid) as definition from pg_trigger
       where tgrelid = 'outbox'::regclass and not tgisinternal order by tgname`),
    functions: await query(`
      select proname, prosrc from pg_proc where proname = 'notify_outbox_inserted'`),
  };
}

t.test(
  'sql/inventory’s outbox is exactly the template a new service copies (sql/templates/outbox.sql)',
  async (t) => {
    const inventory = await startInventory(t);
    const template = createDb({
      url: await createTestDatabase(t, 'template'),
      log: captureLogs().log,
    });
    t.teardown(() => template.destroy());
    await template.raw(
      await readFile(new URL('../../../sql/templates/outbox.sql', import.meta.url), 'utf8'),
    );
    const migrated = await outboxSchema(inventory.db);
    t.ok(migrated.columns.length > 0 && migrated.triggers.length === 1, 'there is one to compare');
    t.same(await outboxSchema(template), migrated);
    t.equal(inventoryOutbox.channel, 'outbox_inserted', 'the channel its trigger notifies');
  },
);
