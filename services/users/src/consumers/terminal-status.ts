import { consumeTopic, type MqttClient } from '@mercado/common/mqtt';
import { type Logger } from '@mercado/common/log';
import { createPresenceBook } from '../domain/terminal-presence.js';
import type { TerminalPresence } from '../domain/terminal-view.js';

export interface TerminalPresenceOptions {
  /** The service's MQTT client (runtime.mqtt), with a clean session. */
  mqtt: MqttClient;
  log: Logger;
}

export interface TerminalPresenceTracker extends TerminalPresence {
  /** Stops consuming (the MQTT client is the runtime's, which ends it). */
  close(): Promise<void>;
}

/**
 * The users service's MQTT entry point: terminals' presence from their retained
 * `terminals/{terminalId}/status`, which this service may read as service `users`. On subscribing
 * it hears every terminal's last word (MQTT-3.3.1-6), then each change, last wills included.
 *
 * Every replica holds its own copy (a plain subscription, not a shared one), so no state lives
 * outside the broker. The session is clean: the retained messages rebuild the copy on each
 * (re)connection, so nothing is kept between them, and while disconnected every presence is
 * `unknown`. The client connects, and reconnects, in the background: the service starts, and
 * serves everything else, while the broker is down.
 */
export function startTerminalPresence({
  mqtt,
  log,
}: TerminalPresenceOptions): TerminalPresenceTracker {
  const book = createPresenceBook(() => mqtt.connected);
  let heardBefore = mqtt.connected;
  let warned = false;

  const consumer = consumeTopic({
    mqtt,
    log,
    topic: 'terminalStatus',
    handle({ params, value, retained }) {
      // A retained message was published at some unknown earlier time: without the terminal's own
      // stamp, when its status began is not known. A live one began now.
      const since = value.at ?? (retained ? null : new Date().toISOString());
      book.record(params.terminalId, { status: value.status, since });
    },
  });

  function onConnect() {
    warned = false;
    // The retained statuses about to arrive (mqtt.js subscribes again) are the whole truth.
    book.forgetAll();
    if (heardBefore) log.info('terminal presence rebuilt from retained statuses');
    heardBefore = true;
  }
  function onClose() {
    // Once per outage, not once per reconnection attempt.
    if (warned) return;
    warned = true;
    log.warn('terminal presence unknown until the broker answers');
  }
  mqtt.on('connect', onConnect);
  mqtt.on('close', onClose);

  return {
    presenceOf: (terminalId) => book.presenceOf(terminalId),
    async close() {
      mqtt.off('connect', onConnect);
      mqtt.off('close', onClose);
      await consumer.stop();
    },
  };
}
