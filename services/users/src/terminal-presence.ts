import { randomUUID } from 'node:crypto';
import {
  connectMqtt,
  parsePayload,
  serviceMqttCredentials,
  topics,
  type Logger,
  type MqttClient,
} from '@mercado/common';
import type { Presence, TerminalPresence } from './domain/terminal-view.js';

export interface TerminalPresenceOptions {
  /** The broker, e.g. `mqtt://broker:1883`. */
  url: string;
  /** Derives this service's broker password (serviceMqttCredentials). */
  internalSecret: string;
  log: Logger;
  /** The first wait after a failed first connection; it doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
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
 * The first connection is retried in the background, so the service starts (and serves everything
 * else) while the broker is down; after it, mqtt.js reconnects and resubscribes by itself.
 */
export function startTerminalPresence({
  url,
  internalSecret,
  log,
  retryMs = 1_000,
  maxRetryMs = 30_000,
}: TerminalPresenceOptions): TerminalPresenceTracker {
  // Every terminal's status: the contract's pattern with a wildcard for the id.
  const filter = topics.terminalStatus.pattern.replace('{terminalId}', '+');
  const heard = new Map<string, Presence>();
  let client: MqttClient | undefined;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  function onMessage(topic: string, payload: Buffer, packet: { retain: boolean }): void {
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
  }

  async function subscribe(connected: MqttClient): Promise<void> {
    try {
      await connected.subscribeAsync(filter, { qos: topics.terminalStatus.qos });
      log.info({ filter }, 'listening to terminal presence');
    } catch (error) {
      log.error({ err: error, filter }, 'terminal presence subscription refused');
    }
  }

  async function connect(wait: number): Promise<void> {
    let connected: MqttClient;
    try {
      connected = await connectMqtt(url, {
        ...serviceMqttCredentials(internalSecret, 'users'),
        clientId: `users-${randomUUID()}`,
        clean: true,
      });
    } catch (error) {
      if (closed) return;
      log.warn(
        { err: { message: (error as Error).message }, retryInMs: wait },
        'broker unreachable; terminal presence unknown until it answers',
      );
      retry = setTimeout(function retryConnect() {
        void connect(Math.min(wait * 2, maxRetryMs));
      }, wait);
      return;
    }
    if (closed) {
      await connected.endAsync(true);
      return;
    }
    client = connected;
    connected.on('message', onMessage);
    connected.on('connect', function onReconnect() {
      // mqtt.js has resubscribed; the retained statuses about to arrive are the whole truth.
      heard.clear();
      log.info('terminal presence rebuilt from retained statuses');
    });
    connected.on('offline', function onOffline() {
      log.warn('broker connection lost; terminal presence unknown until it is back');
    });
    // Each failed reconnection attempt is an error; `offline` above already said it once.
    connected.on('error', function onError(error) {
      log.debug({ err: { message: error.message } }, 'broker connection error');
    });
    await subscribe(connected);
  }

  void connect(retryMs);

  return {
    presenceOf(terminalId) {
      if (!client?.connected) return unknown;
      return heard.get(terminalId) ?? unknown;
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await client?.endAsync(!client.connected);
    },
  };
}
