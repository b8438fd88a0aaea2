import { fileURLToPath } from 'node:url';
import type { RequestListener } from 'node:http';
import type { Knex } from 'knex';
import { createDb, migrate } from '../db/db.js';
import { createLogger, type Logger } from '../log/logger.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import { handleShutdown, listen } from '../http/server.js';
import { mqttServices, type MqttServiceName } from '../contract/contract.js';
import { endMqtt, type MqttClient } from '../mqtt/client.js';
import { createServiceMqttClient } from '../mqtt/service-client.js';
import { runMain } from './run-main.js';

/** Settings every database-backed service has (baseServiceSettings + databaseSettings). */
export interface DatabaseServiceConfig {
  HOST: string;
  PORT: number;
  LOG_LEVEL: string;
  SHUTDOWN_TIMEOUT_MS: number;
  DATABASE_URL: string;
  DATABASE_POOL_MAX: number;
  MIGRATE_ON_START: boolean;
  DATABASE_STATEMENT_TIMEOUT_MS: number;
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: number;
  /** mqttSettings, for a service that uses the broker. */
  MQTT_URL?: string | undefined;
  MQTT_PASSWORD?: string | undefined;
}

export interface ServiceRuntime<C> {
  config: C;
  log: Logger;
  metrics: Metrics;
  db: Knex;
  /**
   * The service's one MQTT client (createServiceMqttClient), when its config has MQTT_URL: for its
   * outbox relay and its consumers. It connects in the background; runDatabaseService ends it on
   * shutdown, after the background work and the HTTP server. Undefined without MQTT_URL.
   */
  mqtt: MqttClient | undefined;
  /** True once a stop signal arrived: readiness fails so load balancers drain this replica. */
  isShuttingDown: () => boolean;
}

/** Work a service runs beside its HTTP server (an outbox relay, a consumer, a sweeper). */
export interface BackgroundTask {
  /** Named in the shutdown log. */
  name: string;
  stop(): Promise<unknown>;
}

export interface DatabaseServiceOptions<C extends DatabaseServiceConfig> {
  name: string;
  loadConfig: () => C;
  /** The service's `sql/<name>` folder. */
  migrationsDir: URL;
  /** Builds the app (and starts any background work) once the database is migrated. */
  start(runtime: ServiceRuntime<C>): Promise<{
    app: RequestListener;
    /** Stopped first on shutdown, in order, before the server stops taking requests. */
    background?: BackgroundTask[];
    /**
     * Stopped once the HTTP server has finished its in-flight requests, before the MQTT connection
     * and the pool: what those requests hold to the end (orders' Idempotency-Key locks).
     */
    afterRequests?: BackgroundTask[];
    /** Extra fields for the "listening" log line. */
    describe?: Record<string, unknown>;
  }>;
}

/**
 * The `main` of a database-backed service: config (exit 2 on a bad one), logger (crashes are
 * logged through it, see runMain), metrics, the one knex pool, migrations on start, the MQTT
 * client when MQTT_URL is set, listen, and an orderly stop on SIGTERM/SIGINT (background work,
 * then in-flight requests and what they hold, then the MQTT connection, then the pool) within
 * SHUTDOWN_TIMEOUT_MS.
 */
export function runDatabaseService<C extends DatabaseServiceConfig>(
  options: DatabaseServiceOptions<C>,
): void {
  runMain(async function main({ useLogger }) {
    const config = options.loadConfig();
    const log = createLogger({ name: options.name, level: config.LOG_LEVEL });
    useLogger(log);
    const metrics = createMetrics(options.name);
    const db = createDb({
      url: config.DATABASE_URL,
      poolMax: config.DATABASE_POOL_MAX,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      log,
      metrics,
      name: `mercado-${options.name}`,
    });
    if (config.MIGRATE_ON_START) {
      const applied = await migrate(db, fileURLToPath(options.migrationsDir));
      if (applied.length > 0) log.info({ applied }, 'migrations applied');
    }
    const mqtt = config.MQTT_URL
      ? createServiceMqttClient({ service: mqttServiceName(options.name), config, log })
      : undefined;
    let shuttingDown = () => false;
    const started = await options.start({
      config,
      log,
      metrics,
      db,
      mqtt,
      isShuttingDown: () => shuttingDown(),
    });
    const server = await listen(started.app, { host: config.HOST, port: config.PORT });
    const shutdown = handleShutdown({
      log,
      deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
      steps: [
        ...(started.background ?? []).map((task) => ({ name: task.name, run: task.stop })),
        { name: 'http', run: () => server.close(config.SHUTDOWN_TIMEOUT_MS) },
        ...(started.afterRequests ?? []).map((task) => ({ name: task.name, run: task.stop })),
        // Whatever used it has stopped: what it had not acknowledged is redelivered or resent.
        ...(mqtt ? [{ name: 'mqtt', run: () => endMqtt(mqtt) }] : []),
        { name: 'database', run: () => db.destroy() },
      ],
    });
    shuttingDown = shutdown.shuttingDown;
    log.info({ url: server.url, ...started.describe }, `${options.name} service listening`);
  });
}

function mqttServiceName(name: string): MqttServiceName {
  const service = mqttServices.find((known) => known === name);
  if (!service) throw new Error(`${name} is not a service of the MQTT contract`);
  return service;
}
