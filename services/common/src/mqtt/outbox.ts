import type { Knex } from 'knex';
import type { MqttClient } from 'mqtt';
import {
  mayPublish,
  parsePayload,
  topics,
  type MqttServiceName,
  type PatternParams,
  type TopicKey,
  type TopicParams,
  type TopicPayload,
} from '../contract/contract.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { startOutboxRelay, type OutboxRelay } from './outbox-relay.js';

/**
 * An event to publish, named as the contract names it: the topic's key, its parameters (when its
 * pattern has any) and the payload its schema describes.
 */
export type OutboxMessage = {
  [K in TopicKey]: { topic: K; payload: TopicPayload<K> } & ([
    PatternParams<(typeof topics)[K]['pattern']>,
  ] extends [never]
    ? { params?: undefined }
    : { params: TopicParams<K> });
}[TopicKey];

/** The settings the relay reads (config's databaseSettings and outboxRelaySettings). */
export interface OutboxRelayConfig {
  DATABASE_URL: string;
  OUTBOX_BATCH_SIZE: number;
  OUTBOX_POLL_INTERVAL_MS: number;
  OUTBOX_PUBLISH_TIMEOUT_MS: number;
}

/** What startRelay needs: the service's runtime (runDatabaseService's, or a test's). */
export interface OutboxRuntime {
  config: OutboxRelayConfig;
  db: Knex;
  log: Logger;
  metrics: Metrics;
  /** The service's MQTT client; without one nothing is relayed. */
  mqtt: MqttClient | undefined;
}

/** A running relay, as a background task of runDatabaseService. */
export interface OutboxRelayTask {
  name: string;
  relay: OutboxRelay;
  stop(): Promise<void>;
}

export interface Outbox {
  readonly service: MqttServiceName;
  readonly table: string;
  readonly channel: string;
  /**
   * Queues messages in the caller's transaction: they exist if and only if its change commits.
   * Each is checked against the contract first (its parameters, its payload's schema, and that
   * this service may publish it); one that fails throws, naming the topic and the contract's
   * reason (fields, never values), so the transaction rolls back rather than store an event no
   * relay could send.
   */
  insert(trx: Knex.Transaction, messages: readonly OutboxMessage[]): Promise<void>;
  /**
   * The rows `insert` would write (`topic`, the payload's JSON), each checked as `insert` checks
   * it: for a statement of the service's own that queues them beside other changes.
   */
  rows(messages: readonly OutboxMessage[]): Array<{ topic: string; payload: string }>;
  /**
   * Starts relaying the table to the broker on the runtime's MQTT client (see outbox-relay.ts:
   * SKIP LOCKED claims shared by every replica, woken by the table's NOTIFY trigger, retried with
   * backoff). Without a client (no MQTT_URL) it says so once and relays nothing: rows wait.
   */
  startRelay(runtime: OutboxRuntime): OutboxRelayTask | undefined;
}

export interface OutboxOptions {
  /** The table, as sql/templates/outbox.sql creates it. */
  table?: string;
  /** The channel its insert trigger notifies. */
  channel?: string;
}

/** The topic a message is published on and its JSON, or why the contract refuses it. */
function checkMessage(
  service: MqttServiceName,
  message: OutboxMessage,
): { topic: string; text: string } | { problem: string } {
  const spec = topics[message.topic];
  let topic: string;
  try {
    topic = (spec.build as (params?: Record<string, string>) => string)(message.params);
  } catch (error) {
    return { problem: (error as Error).message };
  }
  const text = JSON.stringify(message.payload);
  const parsed = parsePayload(topic, text);
  if (!parsed.ok) return { problem: parsed.reason };
  if (!mayPublish({ kind: 'service', service }, topic, { retain: spec.retain })) {
    return { problem: 'not_allowed' };
  }
  return { topic, text };
}

/**
 * A service's outbox: where its events wait, written in the transaction that caused them, until
 * the relay has published them. The table comes from `sql/templates/outbox.sql`, copied into the
 * service's migrations.
 */
export function defineOutbox(
  service: MqttServiceName,
  { table = 'outbox', channel = 'outbox_inserted' }: OutboxOptions = {},
): Outbox {
  const rows = (messages: readonly OutboxMessage[]) =>
    messages.map((message) => {
      const checked = checkMessage(service, message);
      if ('problem' in checked) {
        throw new Error(`outbox message on ${message.topic} refused: ${checked.problem}`);
      }
      return { topic: checked.topic, payload: checked.text };
    });
  return Object.freeze({
    service,
    table,
    channel,
    async insert(trx: Knex.Transaction, messages: readonly OutboxMessage[]) {
      if (messages.length === 0) return;
      await trx(table).insert(rows(messages));
    },
    rows,
    startRelay({ config, db, log, metrics, mqtt }: OutboxRuntime) {
      if (!mqtt) {
        log.warn(
          { table },
          'MQTT_URL is not set: the outbox is not relayed, events stay unsent until a replica with MQTT_URL runs',
        );
        return undefined;
      }
      const relay = startOutboxRelay({
        db,
        mqtt,
        log,
        metrics,
        service,
        table,
        batchSize: config.OUTBOX_BATCH_SIZE,
        pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
        publishTimeoutMs: config.OUTBOX_PUBLISH_TIMEOUT_MS,
        notifications: { url: config.DATABASE_URL, channel, name: `mercado-${service}-outbox` },
      });
      return { name: 'outbox relay', relay, stop: () => relay.stop() };
    },
  });
}
