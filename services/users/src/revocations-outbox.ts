import { randomUUID } from 'node:crypto';
import {
  createMqttClient,
  serviceMqttCredentials,
  startOutboxRelay,
  type MqttClient,
  type OutboxRelay,
} from '@mercado/common/mqtt';
import { type Knex } from '@mercado/common/db';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import type { UsersConfig } from './config.js';

/** The channel sql/users' outbox trigger notifies. */
export const outboxChannel = 'outbox_inserted';

export interface RevocationsOutbox {
  mqtt: MqttClient;
  relay: OutboxRelay;
  /** Shutdown steps, in order: the relay (its batch in flight), then the MQTT connection. */
  stopSteps: Array<{ name: string; stop: () => Promise<unknown> }>;
}

/**
 * Publishes the users service's outbox — revocations, on `users/revocations` — as service `users`,
 * on every replica (claims are SKIP LOCKED, so replicas share the rows). An insert wakes the relay
 * at once (LISTEN/NOTIFY), with a 500 ms poll behind it, so an announcement leaves well within the
 * second it is meant to take. While the broker is down the events wait in the outbox, and go out
 * when it is back; meanwhile gateways and broker nodes that lost the broker fetch the list over
 * HTTP (see GET /internal/revocations). Undefined, after saying so once, without MQTT_URL.
 */
export function startRevocationsOutbox({
  config,
  db,
  log,
  metrics,
}: {
  config: UsersConfig;
  db: Knex;
  log: Logger;
  metrics: Metrics;
}): RevocationsOutbox | undefined {
  if (!config.MQTT_URL) {
    log.warn(
      { table: 'outbox' },
      'MQTT_URL is not set: revocations are not announced; gateways and brokers learn them only when they fetch the list',
    );
    return undefined;
  }
  const mqtt = createMqttClient(
    config.MQTT_URL,
    {
      // One per replica, in the service's namespace (the broker requires `users-`).
      clientId: `users-outbox-${randomUUID()}`,
      ...serviceMqttCredentials(config.INTERNAL_SECRET, 'users'),
      reconnectOnConnackError: true,
    },
    log,
  );
  const relay = startOutboxRelay({
    db,
    mqtt,
    log,
    metrics,
    service: 'users',
    table: 'outbox',
    pollIntervalMs: 500,
    notifications: {
      url: config.DATABASE_URL,
      channel: outboxChannel,
      name: 'mercado-users-outbox',
    },
  });
  return {
    mqtt,
    relay,
    stopSteps: [
      { name: 'outbox relay', stop: () => relay.stop() },
      { name: 'outbox mqtt', stop: () => mqtt.endAsync(true) },
    ],
  };
}
