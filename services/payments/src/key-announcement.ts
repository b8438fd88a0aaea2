import { topics, type PaymentKeys } from '@mercado/common/contract';
import type { Logger } from '@mercado/common/log';
import { publishWithin, type MqttClient } from '@mercado/common/mqtt';
import type { CardKeyring } from './keys.js';

export interface KeyAnnouncement {
  /** Resolves once the broker has acknowledged an announcement (the first, or a later one). */
  announced(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Publishes payments' public card keys, retained, on `payments/keys` each time the MQTT client
 * connects. Not through the outbox: the keys are state, not an event. A retained message is
 * replaced by the next one, so publishing again is idempotent, and publishing on every connection
 * restores it after a broker that lost its retained messages (in-memory persistence) restarts —
 * which an outbox row, sent once, would not.
 */
export function announceCardKeys({
  mqtt,
  log,
  keyring,
  timeoutMs = 5_000,
}: {
  mqtt: MqttClient;
  log: Logger;
  keyring: CardKeyring;
  timeoutMs?: number;
}): KeyAnnouncement {
  const spec = topics.paymentKeys;
  let acknowledged!: () => void;
  const firstAcknowledged = new Promise<void>((resolve) => (acknowledged = resolve));
  let latest: Promise<void> = Promise.resolve();

  function publishKeys() {
    const payload: PaymentKeys = {
      type: 'payments.keys',
      keys: keyring.publicKeys,
      at: new Date().toISOString(),
    };
    latest = publishWithin(
      mqtt,
      spec.build(),
      JSON.stringify(payload),
      { qos: spec.qos, retain: spec.retain },
      timeoutMs,
    ).then(
      function keysAnnounced() {
        log.info(
          { activeKid: keyring.activeKid, keys: keyring.publicKeys.length },
          'card keys announced',
        );
        acknowledged();
      },
      function keysNotAnnounced(error: unknown) {
        // The next connection announces them again.
        log.warn({ err: { message: (error as Error).message } }, 'card keys not announced');
      },
    );
  }

  mqtt.on('connect', publishKeys);
  if (mqtt.connected) publishKeys();
  return {
    announced: () => firstAcknowledged,
    async stop() {
      mqtt.off('connect', publishKeys);
      await latest;
    },
  };
}
