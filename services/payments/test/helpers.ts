import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { startTestBroker as startBrokerForTests, type TestBroker } from '@mercado/broker/testing';
import {
  encryptCard,
  type MqttServiceName,
  type Card,
  type CardPublicJwk,
  type PaymentIntentCreated,
  type PaymentRequested,
} from '@mercado/common/contract';
import type { Knex } from '@mercado/common/db';
import type { MqttClient } from '@mercado/common/mqtt';
import type { captureLogs } from '@mercado/common/testing';
import {
  eventually,
  startTestService,
  testMqttPassword,
  testServiceMqttCredentials,
} from '@mercado/common/testing';

export { eventually };
export type { CardProcessor };
import {
  buildPaymentsApp,
  createSandboxProcessor,
  loadPaymentsConfig,
  paymentsDeps,
  paymentsMigrationsDir,
  startPaymentsWork,
  type CardProcessor,
  type PaymentsConfig,
  type PaymentsDeps,
  type PaymentsWork,
} from '../src/app.js';
import { generateCardKey, type CardPrivateJwk } from '../src/keys.js';

interface TestContext {
  teardown(fn: () => unknown): void;
}

export const fingerprintKey = 'payments-test-fingerprint-key-0123456789abcdef';

/** The sandbox's test cards (README, "Test cards"), valid until well after the tests run. */
export const testCards = {
  approved: '4242424242424242',
  declined: '4000000000000002',
  insufficientFunds: '4000000000009995',
  expired: '4000000000000069',
  incorrectCvc: '4000000000000127',
  processingError: '4000000000000119',
  slow: '4000000000007775',
  mastercard: '5555555555554444',
  amex: '378282246310005',
} as const;

export function card(number: string = testCards.approved, overrides: Partial<Card> = {}): Card {
  return {
    number,
    expMonth: 12,
    expYear: new Date().getUTCFullYear() + 3,
    cvc: number.startsWith('34') || number.startsWith('37') ? '1234' : '123',
    ...overrides,
  };
}

let sharedKey: Promise<CardPrivateJwk> | undefined;

/** One card key per test process (generating is cheap, but every test needs one). */
export function testCardKey(): Promise<CardPrivateJwk> {
  sharedKey ??= generateCardKey();
  return sharedKey;
}

/** PAYMENTS_CARD_KEYS for these keys, the first active. */
export function cardKeysSetting(...keys: CardPrivateJwk[]): string {
  return JSON.stringify(keys);
}

/** The public half of a private card key, as payments announces it. */
export function publicOf(key: CardPrivateJwk): CardPublicJwk {
  return key.kty === 'EC'
    ? {
        kty: 'EC',
        crv: key.crv,
        x: key.x,
        y: key.y,
        kid: key.kid,
        alg: 'ECDH-ES+A256KW',
        use: 'enc',
      }
    : { kty: 'OKP', crv: key.crv, x: key.x, kid: key.kid, alg: 'ECDH-ES+A256KW', use: 'enc' };
}

export async function paymentsEnv(
  env: Record<string, string> = {},
): Promise<Record<string, string>> {
  return {
    PAYMENTS_CARD_KEYS: cardKeysSetting(await testCardKey()),
    CARD_FINGERPRINT_KEY: fingerprintKey,
    MQTT_PASSWORD: testMqttPassword('payments'),
    PROCESSOR_SLOW_CARD_DELAY_MS: '0',
    OUTBOX_POLL_INTERVAL_MS: '200',
    ...env,
  };
}

export interface PaymentsHarness {
  url: string;
  db: Knex;
  config: PaymentsConfig;
  logs: ReturnType<typeof captureLogs>;
  mqtt: MqttClient | undefined;
  deps: PaymentsDeps;
  /** The consumers, relay and key announcement, when started (MQTT_URL in `env`). */
  work: PaymentsWork | undefined;
  /**
   * Stops this replica as its process dies: its consumers, relay and announcement, its MQTT
   * connection and database pool. The database stays: start another on `config.DATABASE_URL`.
   */
  stop(): Promise<void>;
  /** A payment request for an order, its card encrypted for the service's active key. */
  request(
    orderId: string,
    userId: string,
    number?: string,
    requestId?: string,
  ): Promise<PaymentRequested>;
}

export interface PaymentsOptions {
  /** Another replica: share this database instead of creating a fresh one. */
  databaseUrl?: string;
  processor?: CardProcessor;
  now?: () => Date;
  /** Start the consumers, relay and key announcement as main does (needs MQTT_URL). */
  work?: boolean;
}

/** A payments service on a fresh database and a free port, as its main builds it. */
export async function startPayments(
  t: TestContext,
  env: Record<string, string> = {},
  options: PaymentsOptions = {},
): Promise<PaymentsHarness> {
  let stopWork = async () => {};
  const service = await startTestService(t, {
    name: 'payments',
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    loadConfig: loadPaymentsConfig,
    env: await paymentsEnv(env),
    migrationsDir: paymentsMigrationsDir,
    mqttOptions: { reconnectPeriod: 100 },
    async build(runtime) {
      const deps = await paymentsDeps(runtime, {
        ...(options.processor ? { processor: options.processor } : {}),
        ...(options.now ? { now: options.now } : {}),
      });
      const work = options.work ? startPaymentsWork(runtime, deps) : undefined;
      if (work) {
        let stopping: Promise<void> | undefined;
        stopWork = () =>
          (stopping ??= (async function stopPaymentsWork() {
            for (const task of work.background) await task.stop();
          })());
        t.teardown(stopWork);
      }
      return { app: buildPaymentsApp(runtime), extra: { deps, work } };
    },
  });
  const publicKeys = service.deps.keyring.publicKeys;
  return {
    ...service,
    async stop() {
      await stopWork();
      await service.stop();
    },
    async request(orderId, userId, number = testCards.approved, requestId = randomUUID()) {
      return {
        type: 'payment.requested',
        requestId,
        orderId,
        userId,
        card: await encryptCard(card(number), { keys: publicKeys }),
      };
    },
  };
}

/** An intent of this amount for a new order, due in an hour unless told otherwise. */
export function intent(overrides: Partial<PaymentIntentCreated> = {}): PaymentIntentCreated {
  return {
    type: 'payment.intent_created',
    id: randomUUID(),
    orderId: randomUUID(),
    userId: randomUUID(),
    amountMinor: 2599,
    currency: 'EUR',
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    ...overrides,
  };
}

/** Every table of payments' database. */
export const paymentsTables = ['intents', 'payments', 'refunds', 'payment_events', 'outbox'];

/** Every row of every table in the database (its own listing, so a new table is not missed). */
export async function everyRow(db: Knex): Promise<string[]> {
  const tables = await db.raw<{ rows: Array<{ table_name: string }> }>(
    "select table_name from information_schema.tables where table_schema = 'public'",
  );
  const rows: string[] = [];
  for (const { table_name: table } of tables.rows) {
    const result = await db.raw<{ rows: Array<{ row: string }> }>(
      'select row_to_json(t)::text as row from ?? t',
      [table],
    );
    rows.push(...result.rows.map((entry) => `${table}: ${entry.row}`));
  }
  return rows;
}

/** Outbox payloads on `payments/results/{orderId}`, in order. */
export async function queuedResults(
  db: Knex,
  orderId?: string,
): Promise<Array<Record<string, any>>> {
  const query = db('outbox').orderBy('id').select('topic', 'payload');
  if (orderId) query.where({ topic: `payments/results/${orderId}` });
  const rows: Array<{ payload: Record<string, any> }> = await query;
  return rows.map((row) => row.payload);
}

export type { TestBroker } from '@mercado/broker/testing';

/**
 * Mercado's real broker in this process (the broker's own test export), on a TCP port of its
 * own, admitting every contract service with its test password; `restart()` brings it back on the
 * same port without any retained message. Its packet limit is raised so that payments itself is
 * seen refusing an oversized payload.
 */
export function startTestBroker(t: TestContext): Promise<TestBroker> {
  return startBrokerForTests(t, { MAX_PACKET_BYTES: String(256 * 1024) });
}

/** mosquitto_pub / mosquitto_sub's connection options, as service `service` with its password. */
function mosquittoConnection(broker: TestBroker, service: MqttServiceName, clientId: string) {
  const { username, password } = testServiceMqttCredentials(service);
  return [
    '-h',
    '127.0.0.1',
    '-p',
    String(broker.port),
    '-u',
    username,
    '-P',
    password,
    '-i',
    clientId,
    '-q',
    '1',
    '-V',
    'mqttv311',
  ];
}

/** Publishes one message with mosquitto_pub (the payload on its stdin), as a foreign client. */
export function mosquittoPublish(
  broker: TestBroker,
  service: MqttServiceName,
  topic: string,
  payload: string,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    'mosquitto_pub',
    [...mosquittoConnection(broker, service, `${service}-pub-${randomUUID()}`), '-t', topic, '-s'],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(payload);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

/**
 * Subscribes with mosquitto_sub and resolves once the broker has granted it (its own output is
 * block-buffered on a pipe, so the broker says when it is ready); `messages` holds each line.
 */
export async function mosquittoSubscribe(
  t: TestContext,
  broker: TestBroker,
  service: MqttServiceName,
  topic: string,
): Promise<{ messages: string[] }> {
  const clientId = `${service}-sub-${randomUUID()}`;
  const child = spawn(
    'mosquitto_sub',
    [...mosquittoConnection(broker, service, clientId), '-t', topic],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  t.teardown(() => {
    child.kill('SIGTERM');
  });
  const messages: string[] = [];
  let pending = '';
  const granted = broker.subscribed(clientId, topic);
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    messages.push(...lines);
  });
  await granted;
  return { messages };
}

/**
 * A new order's intent, published by orders with mosquitto_pub once `resultsAs` listens to its
 * results (when given), and recorded by payments.
 */
export async function publishIntent(
  t: TestContext,
  broker: TestBroker,
  db: Knex,
  { resultsAs, ...overrides }: Partial<PaymentIntentCreated> & { resultsAs?: MqttServiceName } = {},
) {
  const owed = intent(overrides);
  const results = resultsAs
    ? await mosquittoSubscribe(t, broker, resultsAs, `payments/results/${owed.orderId}`)
    : { messages: [] };
  await mosquittoPublish(broker, 'orders', 'payments/intents', JSON.stringify(owed));
  await eventually('the intent recorded', () =>
    db('intents').where({ order_id: owed.orderId }).first(),
  );
  return { owed, results };
}

/**
 * The sandbox processor, with its slow test card held until the test lets it go: a payment is
 * then under way for as long as the test needs it to be, whatever the machine's speed.
 */
export function heldProcessor(): { processor: CardProcessor; release(): void; held(): number } {
  let waiting: Array<() => void> = [];
  const processor = createSandboxProcessor({
    now: () => new Date(),
    minAmountMinor: 50,
    maxAmountMinor: 99_999_999,
    slowCardDelayMs: 1,
    wait: () => new Promise<void>((resolve) => waiting.push(resolve)),
  });
  return {
    processor,
    release() {
      const released = waiting;
      waiting = [];
      for (const resolve of released) resolve();
    },
    held: () => waiting.length,
  };
}
