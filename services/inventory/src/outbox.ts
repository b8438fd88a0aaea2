import { startOutboxRelay, type MqttClient, type OutboxRelay } from '@mercado/common/mqtt';
import { type Knex } from '@mercado/common/db';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import type { InventoryConfig } from './config.js';

/** The channel sql/inventory's outbox trigger notifies. */
export const outboxChannel = 'outbox_inserted';

export interface InventoryOutbox {
  relay: OutboxRelay;
  /** Shutdown steps: the relay (its batch in flight); the MQTT client is the runtime's. */
  stopSteps: Array<{ name: string; stop: () => Promise<unknown> }>;
}

export interface InventoryOutboxDeps {
  config: InventoryConfig;
  db: Knex;
  log: Logger;
  metrics: Metrics;
  /** The service's MQTT client (runtime.mqtt), undefined without MQTT_URL. */
  mqtt: MqttClient | undefined;
}

/**
 * Relays the outbox to the broker as service `inventory`, on every replica (claims are SKIP
 * LOCKED, so replicas share the rows); undefined, after saying so once, without MQTT_URL. The
 * client connects in the background: the service starts, and keeps taking stock changes, while
 * the broker is down; their events wait in the outbox.
 */
export function startInventoryOutbox({
  config,
  db,
  log,
  metrics,
  mqtt,
}: InventoryOutboxDeps): InventoryOutbox | undefined {
  if (!mqtt) {
    log.warn(
      { table: 'outbox' },
      'MQTT_URL is not set: the outbox is not relayed, events stay unsent until a replica with MQTT_URL runs',
    );
    return undefined;
  }
  const relay = startOutboxRelay({
    db,
    mqtt,
    log,
    metrics,
    service: 'inventory',
    table: 'outbox',
    batchSize: config.OUTBOX_BATCH_SIZE,
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
    publishTimeoutMs: config.OUTBOX_PUBLISH_TIMEOUT_MS,
    notifications: {
      url: config.DATABASE_URL,
      channel: outboxChannel,
      name: 'mercado-inventory-outbox',
    },
  });
  return { relay, stopSteps: [{ name: 'outbox relay', stop: () => relay.stop() }] };
}
