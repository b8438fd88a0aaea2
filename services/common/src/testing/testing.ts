import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { RequestListener } from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import { createLogger, type Logger } from '../log/logger.js';
import { signIdentity, type Identity } from '../identity/identity.js';
import { genericErrors } from '../errors/catalogue.js';
import type { ErrorCatalogue } from '../errors/define-errors.js';
import { createDb, migrate } from '../db/db.js';
import { listen, type ListeningServer } from '../http/server.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import type { MqttServiceName } from '../contract/contract.js';
import type { IClientOptions, MqttClient } from '../mqtt/client.js';
import { createServiceMqttClient, type ServiceMqttConfig } from '../mqtt/service-client.js';

export { startTestRedis, type TestRedis } from './redis.js';
export { decodePacket, encode, RawMqtt, type RawPacket } from './mqtt-wire.js';
export {
  testMqttPassword,
  testServiceMqttCredentials,
  testBrokerCredentials,
} from './mqtt-credentials.js';

/** Set by the test runner (scripts/src/test.ts), which starts one throwaway Postgres per run. */
export const testServerUrlVariable = 'MERCADO_TEST_DATABASE_URL';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * Creates a fresh, empty database on the run's Postgres server and drops it when the test ends, so
 * test files never see each other's rows and can run in parallel.
 */
export async function createTestDatabase(t: Teardown, prefix = 't'): Promise<string> {
  const serverUrl = process.env[testServerUrlVariable];
  if (!serverUrl) {
    throw new Error(
      `${testServerUrlVariable} is not set: run the tests with \`npm test\` (it starts Postgres)`,
    );
  }
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  t.teardown(async function dropTestDatabase() {
    await admin.raw(`drop database if exists ${name} with (force)`);
    await admin.destroy();
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A logger whose lines are kept in memory, parsed, for assertions on what was (not) logged. */
export function captureLogs(name = 'test'): {
  log: Logger;
  lines: Array<Record<string, unknown>>;
  text: () => string;
} {
  const raw: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const log = createLogger({ name, level: 'trace', destination });
  return { log, lines, text: () => raw.join('\n') };
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is (with a JSON content type unless `headers` says otherwise). */
  rawBody?: string;
  /** Signed as the gateway (or another service) would sign it; none means no identity headers. */
  identity?: Identity;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the text when it is not JSON. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read any shape
}

/** Calls a service directly as the gateway or another service would: a freshly signed identity. */
export async function callService(
  baseUrl: string,
  internalSecret: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<CallResult> {
  const headers: Record<string, string> = {
    ...(options.identity ? signIdentity(options.identity, internalSecret) : {}),
    ...options.headers,
  };
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

export interface TestServiceOptions<C extends { DATABASE_URL: string }, A> {
  /** The service's name; with MQTT_URL in its config, a contract service's (see mqtt). */
  name: string;
  /** Builds the config from the test's environment (DATABASE_URL filled in). */
  loadConfig: (env: Record<string, string>) => C;
  env: Record<string, string>;
  migrationsDir: URL;
  /** Another replica: share this database instead of creating a fresh one. */
  databaseUrl?: string;
  /** More mqtt.js options for the service's MQTT client (a faster reconnect…). */
  mqttOptions?: IClientOptions;
  /** Listen on this port (a restarted service where its callers expect it); a free one if 0. */
  port?: number;
  /** Builds the app; `extra` is handed back to the test (keys, clients, ...). */
  build: (runtime: {
    config: C;
    log: Logger;
    metrics: Metrics;
    db: Knex;
    /** As runDatabaseService makes it: with MQTT_URL in the config, undefined without. */
    mqtt: MqttClient | undefined;
  }) => Promise<{ app: RequestListener; extra: A }> | { app: RequestListener; extra: A };
}

export interface TestService<C> {
  url: string;
  db: Knex;
  config: C;
  logs: ReturnType<typeof captureLogs>;
  mqtt: MqttClient | undefined;
  /** The port it listens on (give it back as `port` to restart it where its callers expect it). */
  port: number;
  /**
   * Stops it as a process dies, before the test ends: the port closed, the MQTT connection
   * dropped, the database pool closed (the database stays: start it again on `config.
   * DATABASE_URL`). Idempotent; the test's teardown calls it too.
   */
  stop(): Promise<void>;
}

/**
 * A service as its main would run it, for a test: a fresh migrated database, captured logs, its
 * own metrics, a free port; all closed when the test ends, or before by `stop()`.
 */
export async function startTestService<C extends { DATABASE_URL: string }, A>(
  t: Teardown,
  options: TestServiceOptions<C, A>,
): Promise<TestService<C> & A> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase(t, options.name));
  const config = options.loadConfig({ ...options.env, DATABASE_URL: databaseUrl });
  const logs = captureLogs(options.name);
  const metrics = createMetrics(options.name);
  const {
    DATABASE_STATEMENT_TIMEOUT_MS: statementTimeoutMs,
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: idleInTransactionTimeoutMs,
  } = config as {
    DATABASE_STATEMENT_TIMEOUT_MS?: number;
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS?: number;
  };
  const db = createDb({
    url: config.DATABASE_URL,
    log: logs.log,
    metrics,
    ...(statementTimeoutMs === undefined ? {} : { statementTimeoutMs }),
    ...(idleInTransactionTimeoutMs === undefined ? {} : { idleInTransactionTimeoutMs }),
  });
  await migrate(db, fileURLToPath(options.migrationsDir));
  const mqttConfig = config as ServiceMqttConfig;
  const mqtt = mqttConfig.MQTT_URL
    ? createServiceMqttClient({
        service: options.name as MqttServiceName,
        config: mqttConfig,
        log: logs.log,
        ...(options.mqttOptions ? { options: options.mqttOptions } : {}),
      })
    : undefined;
  const listening: { server?: ListeningServer } = {};
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async function stopTestService() {
      await listening.server?.close(1000);
      await mqtt?.endAsync(true);
      await db.destroy();
    })());
  // Registered before build, whose teardowns (the background work it starts) therefore run first:
  // tap runs them last in, first out. So the test ends the service in main's order (background
  // work, then the server, MQTT and the database), not its work after its database was gone, a
  // relay pass then waiting out the pool's 10 s for a connection that never came.
  t.teardown(stop);
  const { app, extra } = await options.build({ config, log: logs.log, metrics, db, mqtt });
  const server = await listen(app, { port: options.port ?? 0 });
  listening.server = server;
  return { ...extra, url: server.url, port: server.port, db, config, logs, mqtt, stop };
}

interface Asserts {
  equal(found: unknown, wanted: unknown, message: string): unknown;
  match(found: unknown, pattern: unknown, message: string): unknown;
  same(found: unknown, wanted: unknown, message: string): unknown;
  notOk(value: unknown, message: string): unknown;
}

/**
 * Asserts a refusal: the status, problem+json with the catalogued code, no stack trace, and (when
 * given) exactly these field paths in `errors`.
 */
export function expectProblemAnswer(
  t: Asserts,
  response: CallResult,
  wanted: {
    name: string;
    status: number;
    code: string;
    paths?: string[] | undefined;
    allow?: string | undefined;
  },
): void {
  const { name, status, code, paths, allow } = wanted;
  t.equal(response.status, status, `${name}: status`);
  t.match(
    response.headers.get('content-type'),
    /^application\/problem\+json/,
    `${name}: problem+json`,
  );
  t.match(
    response.body,
    { code, status, type: `urn:mercado:problem:${code}`, title: String },
    `${name}: body`,
  );
  t.notOk(String(JSON.stringify(response.body)).includes('    at '), `${name}: no stack trace`);
  if (paths) {
    const found = (response.body.errors as Array<{ path: string }> | undefined) ?? [];
    t.same([...new Set(found.map((error) => error.path))], paths, `${name}: field paths`);
  }
  if (allow !== undefined) t.equal(response.headers.get('allow'), allow, `${name}: Allow`);
}

/** A request a service must refuse, and the refusal it must get (see expectProblemAnswer). */
export interface RefusalCase extends CallOptions {
  name: string;
  method: string;
  path: string;
  status: number;
  code: string;
  /** The field paths `errors` must name, exactly; unchecked when absent. */
  paths?: string[];
  /** The `Allow` header a 405 must carry; unchecked when absent. */
  allow?: string;
}

/** Sends every case with `call`, one after the other, and asserts each one's refusal. */
export async function expectRefusals(
  t: Asserts,
  call: (method: string, path: string, options: CallOptions) => Promise<CallResult>,
  cases: RefusalCase[],
): Promise<void> {
  for (const { name, method, path, status, code, paths, allow, ...options } of cases) {
    expectProblemAnswer(t, await call(method, path, options), { name, status, code, paths, allow });
  }
}

/**
 * Every row of `tables`, in a stable order: what a refused request must leave exactly as it was
 * (a row count would miss an update).
 */
export async function snapshotTables(
  db: Knex,
  tables: readonly string[],
): Promise<Record<string, string[]>> {
  const snapshot: Record<string, string[]> = {};
  for (const table of tables) {
    const result = await db.raw<{ rows: Array<{ row: string }> }>(
      'select row_to_json(t)::text as row from ?? t',
      [table],
    );
    snapshot[table] = result.rows.map((entry) => entry.row).sort();
  }
  return snapshot;
}

/**
 * A service's error catalogue is what it documents: its `/openapi.json` Problem lists every code
 * of the catalogue (generic ones included), and the `## Error codes` section of its README names
 * each of its own.
 */
export async function expectCatalogueDocumented(
  t: Asserts & { ok(value: unknown, message: string): unknown },
  baseUrl: string,
  catalogue: ErrorCatalogue,
  readme: URL,
): Promise<void> {
  const document = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as {
    components: { schemas: { Problem: { properties: { code: { enum: string[] } } } } };
  };
  t.same(
    document.components.schemas.Problem.properties.code.enum,
    Object.keys(catalogue.entries),
    'the Problem schema lists the generic codes and the service’s own',
  );
  const text = await readFile(readme, 'utf8');
  const section = text.slice(text.indexOf('## Error codes'));
  for (const code of Object.keys(catalogue.entries)) {
    if (!(code in genericErrors)) t.ok(section.includes(`\`${code}\``), `the README lists ${code}`);
  }
}

/** How many reads a service answered from its answer cache (hit) or computed (miss), from /metrics. */
export async function answerCacheLookups(baseUrl: string): Promise<{ hit: number; miss: number }> {
  const text = await fetch(`${baseUrl}/metrics`).then((response) => response.text());
  const count = (outcome: string) =>
    Number(
      new RegExp(`^answer_cache_lookups_total\\{outcome="${outcome}"[^}]*\\} (\\d+)`, 'm').exec(
        text,
      )?.[1] ?? 0,
    );
  return { hit: count('hit'), miss: count('miss') };
}
