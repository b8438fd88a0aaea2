import { randomUUID } from 'node:crypto';
import { type Identity } from '@mercado/common/identity';
import { type Knex } from '@mercado/common/db';
import type { DocumentedOperation } from '@mercado/common/http';
import type { PaymentResult, PaymentStatus } from '@mercado/common/contract';
import { connectMqtt, type MqttClient } from '@mercado/common/mqtt';
import {
  callService,
  type captureLogs,
  startTestService,
  testMqttPassword,
  testServiceMqttCredentials,
  type CallOptions,
  type CallResult,
} from '@mercado/common/testing';
import { startTestBroker } from '@mercado/broker/testing';
import {
  buildOrdersApp,
  loadOrdersConfig,
  ordersApis,
  ordersDeps,
  ordersMigrationsDir,
  startOrdersWork,
  type OrdersConfig,
  type SweepOptions,
  type SweepResult,
} from '../src/app.js';

/** The secret the gateway signs identities with in these tests (INTERNAL_SECRET overrides it). */
export const internalSecret = 'orders-test-internal-secret-0123456789abcdef';

interface TestContext {
  teardown(fn: () => unknown): void;
}

export type { CallOptions, CallResult } from '@mercado/common/testing';
/** What tests elsewhere (e2e/) check against: the transitions the database allows, the codes. */
export { orderTransitions, ordersErrors } from '../src/app.js';
/** The service's README, whose error-code section the catalogue test reads. */
export const ordersReadme = new URL('../README.md', import.meta.url);
/** The built entry point (`npm test` builds first), for tests that run the service as a process. */
export const ordersBuiltMain = new URL('../dist/main.js', import.meta.url);

/** Callers, as the gateway signs them. */
export const as = {
  customer: (userId: string = randomUUID()): Identity & { userId: string } => ({
    userId,
    roles: ['customer'],
  }),
  seller: (userId: string = randomUUID()): Identity & { userId: string } => ({
    userId,
    roles: ['customer', 'seller'],
  }),
  admin: (userId: string = randomUUID()): Identity & { userId: string } => ({
    userId,
    roles: ['admin'],
  }),
  guest: (): Identity => ({ roles: [] }),
};

export interface OrdersHarness {
  url: string;
  db: Knex;
  config: OrdersConfig;
  logs: ReturnType<typeof captureLogs>;
  mqtt: MqttClient | undefined;
  /** Every operation the service answers, as its routers declare them. */
  operations: DocumentedOperation[];
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  /** One sweep, as a replica's timer runs it (`checkAll`: as its first). */
  sweep(options?: SweepOptions): Promise<SweepResult>;
  /** The port it listens on (give it back as `port` to restart it where the gateway calls it). */
  port: number;
  /**
   * Stops it as its process dies: its consumers and outbox relay, the port, the MQTT connection,
   * the database pool and its lock session (the Idempotency-Keys it held are free). Its database
   * stays: start it again on `config.DATABASE_URL`.
   */
  stop(): Promise<void>;
}

export interface OrdersOptions {
  /** Another replica, or the service restarted: this database instead of a fresh one. */
  databaseUrl?: string;
  /** Listen on this port (a restarted service where the gateway expects it); a free one if 0. */
  port?: number;
  /**
   * Run the sweeper on its timer, as main does (SWEEP_INTERVAL_MS), first asking about every
   * unpaid order; without it the test sweeps when it chooses (`sweep()`).
   */
  sweeping?: boolean;
}

/** The orders service on a fresh database and a free port; `env` names products and inventory. */
export async function startOrders(
  t: TestContext,
  env: Record<string, string>,
  options: OrdersOptions = {},
): Promise<OrdersHarness> {
  let stopBackground = async () => {};
  let closeKeyLocks = async () => {};
  // Registered before the service's own teardowns, so it runs after them: once no request runs.
  t.teardown(() => closeKeyLocks());
  const service = await startTestService(t, {
    name: 'orders',
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    ...(options.port ? { port: options.port } : {}),
    loadConfig: loadOrdersConfig,
    env: { INTERNAL_SECRET: internalSecret, MQTT_PASSWORD: testMqttPassword('orders'), ...env },
    migrationsDir: ordersMigrationsDir,
    build(runtime) {
      const deps = ordersDeps(runtime);
      closeKeyLocks = () => deps.keyLocks.close();
      const operations = ordersApis(deps).flatMap((api) => api.operations);
      // As main.ts wires it (the relay and, given a broker, the consumers); the test sweeps unless
      // it asks for the timer.
      const work = startOrdersWork(runtime, deps, { sweep: options.sweeping === true });
      let stopping: Promise<void> | undefined;
      stopBackground = () =>
        (stopping ??= (async function stopBackground() {
          for (const task of work.background) await task.stop();
        })());
      t.teardown(stopBackground);
      const sweep = (options?: SweepOptions) => work.sweeper.runOnce(options);
      return {
        app: buildOrdersApp({ ...runtime, keyLocks: deps.keyLocks }),
        extra: { operations, sweep },
      };
    },
  });
  const secret = env.INTERNAL_SECRET ?? internalSecret;
  return {
    ...service,
    call: (method, path, options = {}) => callService(service.url, secret, method, path, options),
    async stop() {
      await stopBackground();
      await service.stop();
      await closeKeyLocks();
    },
  };
}

/** Mercado's real broker in this process, on a free port; its MQTT URL. */
export async function startBroker(t: TestContext): Promise<string> {
  return (await startTestBroker(t)).url;
}

export interface Heard {
  topic: string;
  payload: Record<string, any>;
}

/** What a contract service hears on the broker, and a way to wait for a message. */
export interface Listener {
  client: MqttClient;
  heard: Heard[];
  /** The first message (heard already, or to come) that `matches`. */
  next(matches: (message: Heard) => boolean): Promise<Heard>;
}

/** Connects as `service` (its test credentials) and subscribes to `filters`. */
export async function listenAs(
  t: TestContext,
  mqttUrl: string,
  service: 'payments' | 'gateway',
  filters: string[],
): Promise<Listener> {
  const client = await connectMqtt(mqttUrl, {
    clientId: `${service}-${randomUUID()}`,
    ...testServiceMqttCredentials(service),
    reconnectPeriod: 0,
  });
  t.teardown(() => client.endAsync(true));
  const heard: Heard[] = [];
  const waiting: Array<{
    matches: (message: Heard) => boolean;
    resolve: (message: Heard) => void;
  }> = [];
  client.on('message', function hear(topic, payload) {
    const message = { topic, payload: JSON.parse(payload.toString('utf8')) };
    heard.push(message);
    for (const waiter of [...waiting]) {
      if (waiter.matches(message)) {
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  for (const filter of filters) await client.subscribeAsync(filter, { qos: 1 });
  return {
    client,
    heard,
    next(matches) {
      const found = heard.find(matches);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiting.push({ matches, resolve }));
    },
  };
}

/** Publishes a payment result as the payments service does (QoS 1, the contract's topic). */
export async function publishResult(
  payments: Listener,
  result: Partial<PaymentResult> & Pick<PaymentResult, 'type' | 'orderId'>,
): Promise<PaymentResult> {
  const full: PaymentResult = {
    id: randomUUID(),
    requestId: `req-${randomUUID()}`,
    at: new Date().toISOString(),
    ...result,
  };
  await payments.client.publishAsync(`payments/results/${full.orderId}`, JSON.stringify(full), {
    qos: 1,
  });
  return full;
}

/**
 * Answers, as payments would, one order of a status request that payments' ear heard (or any
 * order, with a request id of its own): `payments/status/{orderId}` with `state`.
 */
export async function answerStatus(
  payments: Listener,
  orderId: string,
  state: PaymentStatus['state'],
  extra: { requestId?: string; paymentId?: string } = {},
): Promise<PaymentStatus> {
  const answer: PaymentStatus = {
    type: 'payment.status',
    id: randomUUID(),
    requestId: extra.requestId ?? randomUUID(),
    orderId,
    state,
    ...(extra.paymentId ? { paymentId: extra.paymentId } : {}),
    at: new Date().toISOString(),
  };
  await payments.client.publishAsync(`payments/status/${orderId}`, JSON.stringify(answer), {
    qos: 1,
  });
  return answer;
}

/**
 * Moves orders past their deadline and their expiry (grace included), as if that time had gone
 * by: what a test does instead of waiting a payment window.
 */
export async function pastExpiry(db: Knex, orderIds: string[]): Promise<void> {
  await db('orders')
    .whereIn('id', orderIds)
    .update({
      deadline: db.raw(`now() - interval '3 minutes'`),
      expires_at: db.raw(`now() - interval '1 minute'`),
    });
}

/** Re-checks `condition` until it holds: for a row or a log line another process writes. */
export async function eventually<T>(
  condition: () => Promise<T | undefined | false> | T | undefined | false,
): Promise<T> {
  for (;;) {
    const value = await condition();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every table of the orders database. */
export const ordersTables = [
  'carts',
  'cart_lines',
  'orders',
  'order_lines',
  'order_history',
  'idempotency_keys',
  'outbox',
  'inbox',
  'payment_attempts',
  'refunds',
];

export const address = {
  name: 'Ana Pérez',
  line1: 'Calle Mayor 1',
  city: 'Madrid',
  postalCode: '28013',
  country: 'ES',
};

/** How many rows `table` holds. */
export async function countRows(db: Knex, table: string): Promise<number> {
  const [row] = await db(table).count<Array<{ n: string }>>('* as n');
  return Number(row!.n);
}
