import { type MqttClient } from '@mercado/common/mqtt';
import { parsePayload, topics } from '@mercado/common/contract';
import { type Logger } from '@mercado/common/log';
import type { Presence, TerminalPresence } from './domain/terminal-view.js';

export interface TerminalPresenceOptions {
  /** The service's MQTT client (runtime.mqtt), with a clean session. */
  mqtt: MqttClient;
  log: Logger;
}

export interface TerminalPresenceTracker extends TerminalPresence {
  close(): Promise<void>;
}

const unknown: Presence = { status: 'unknown', since: null };

/**
 * Keeps every terminal's presence in memory from the broker: this service subscribes, as service
 * `users`, to the retained `terminals/+/status`, so on subscribing it hears every terminal's last
 * word (MQTT-3.3.1-6) and then each change, last wills included.
 *
 * Every replica holds its own copy (a plain subscription, not a shared one), so no state lives
 * outside the broker. The session is clean: the retained messages rebuild the copy on each
 * (re)connection, so there is nothing to keep between them. While disconnected, every presence is
 * `unknown`: a will published meanwhile would be missed, and a stale `online` would mislead.
 *
 * The client (the kit's createMqttClient) connects in the background, so the service starts (and
 * serves everything else) while the broker is down; mqtt.js reconnects and resubscribes by itself.
 */
export function startTerminalPresence({
  mqtt: client,
  log,
}: TerminalPresenceOptions): TerminalPresenceTracker {
  const retryMs = client.options.reconnectPeriod;
  // Every terminal's status: the contract's pattern with a wildcard for the id.
  const filter = topics.terminalStatus.pattern.replace('{terminalId}', '+');
  const heard = new Map<string, Presence>();
  let subscribed = false;
  let warned = false;

  client.on('message', function onMessage(topic, payload, packet) {
    const message = parsePayload(topic, payload);
    if (!message.ok || message.name !== 'terminalStatus') {
      // The broker validated it already; this is a contract mismatch between versions. Never log
      // the payload.
      log.warn(
        { topic, reason: message.ok ? 'other_topic' : message.reason },
        'terminal status ignored',
      );
      return;
    }
    // A retained message was published at some unknown earlier time: without the terminal's own
    // stamp, when its status began is not known. A live one began now.
    const since = message.value.at ?? (packet.retain ? null : new Date().toISOString());
    heard.set(message.params.terminalId, { status: message.value.status, since });
  });

  client.on('connect', function onConnect() {
    warned = false;
    // The retained statuses about to arrive are the whole truth.
    heard.clear();
    if (subscribed) {
      log.info('terminal presence rebuilt from retained statuses');
      return;
    }
    // Once: after a reconnection mqtt.js resubscribes by itself.
    subscribed = true;
    client.subscribeAsync(filter, { qos: topics.terminalStatus.qos }).then(
      () => log.info({ filter }, 'listening to terminal presence'),
      (error: unknown) =>
        log.error({ err: error, filter }, 'terminal presence subscription refused'),
    );
  });

  client.on('close', function onClose() {
    // Once per outage, not once per attempt.
    if (warned) return;
    warned = true;
    if (subscribed) log.warn('broker connection lost; terminal presence unknown until it is back');
    else
      log.warn(
        { retryInMs: retryMs },
        'broker unreachable; terminal presence unknown until it answers',
      );
  });

  // Each failed attempt is an error; `close` above already said it once.
  client.on('error', function onError(error) {
    log.debug({ err: { message: error.message } }, 'broker connection error');
  });

  return {
    presenceOf(terminalId) {
      if (!client.connected) return unknown;
      return heard.get(terminalId) ?? unknown;
    },
    async close() {
      // The client is the runtime's: it ends it.
    },
  };
}
