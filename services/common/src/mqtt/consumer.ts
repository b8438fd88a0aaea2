import type { IPublishPacket, MqttClient } from 'mqtt';
import {
  parsePayload,
  topics,
  type TopicKey,
  type TopicParams,
  type TopicPayload,
} from '../contract/contract.js';
import type { Logger } from '../log/logger.js';
import {
  filterMatches,
  sharedTopicFilter,
  topicFilter,
  type FilterParams,
} from './topic-filters.js';

/** One message of a contract topic, read and checked. */
export interface ConsumedMessage<K extends TopicKey> {
  /** The concrete topic it came on. */
  topic: string;
  /** The topic's parameters (`{ terminalId }`, `{ orderId }`…). */
  params: TopicParams<K>;
  /** The payload, as the contract's schema parsed it. */
  value: TopicPayload<K>;
  /** Sent because it was retained (on subscribing), not as it was published. */
  retained: boolean;
}

export interface ConsumeOptions<K extends TopicKey> {
  /** The service's MQTT client (runtime.mqtt). */
  mqtt: MqttClient;
  log: Logger;
  /** The contract topic. */
  topic: K;
  /** The parameters to fix; the others are wildcards (see topicFilter). */
  params?: FilterParams<K>;
  /** A shared subscription group: each message goes to one of the replicas that share it. */
  share?: string;
  /**
   * Handlers running at once (default 8); later messages wait their turn in arrival order. A
   * burst (thousands of messages acknowledged on arrival) must not start thousands of handlers
   * that each wait for one of a few database connections until their acquire timeout fails them.
   */
  concurrency?: number;
  /**
   * Called once per message the contract accepts, started in arrival order, up to `concurrency`
   * at once. What it throws or rejects with is logged, never crashes the process: a handler that must
   * not lose a message makes its work idempotent (the payload's id) and durable in its own
   * transaction, since a message is acknowledged when it arrives.
   */
  handle(message: ConsumedMessage<K>): void | Promise<void>;
}

/** A running consumer: a background task of runDatabaseService (`background: [consumer]`). */
export interface TopicConsumer {
  /** For the shutdown log: `consumer {filter}`. */
  readonly name: string;
  /** What it subscribed to. */
  readonly filter: string;
  /** Unsubscribes, stops taking messages, and waits for the handlers under way and queued. */
  stop(): Promise<void>;
}

const defaultConcurrency = 8;

/** Filters each client consumes, so that two consumers never share (and unsubscribe) one. */
const consumedFilters = new WeakMap<MqttClient, Set<string>>();

/** The ids a log line may carry: the payload's own event or request id, never anything else. */
function messageIds(value: unknown): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const key of ['id', 'requestId'] as const) {
    const id = (value as Record<string, unknown> | null)?.[key];
    if (typeof id === 'string') ids[key === 'id' ? 'eventId' : key] = id;
  }
  return ids;
}

/**
 * Consumes a contract topic: an MQTT entry point of a service, as a route is an HTTP one. It
 * subscribes through the topic's filter (at the topic's QoS; on the client's connection, at once
 * or when it comes; mqtt.js subscribes again after each reconnection of a clean session), reads
 * each message with the contract's parsePayload (a message the contract refuses is logged with
 * its reason and dropped), and calls `handle`. Logs carry the topic and ids, never a payload.
 */
export function consumeTopic<K extends TopicKey>({
  mqtt,
  log,
  topic,
  params = {},
  share,
  concurrency = defaultConcurrency,
  handle,
}: ConsumeOptions<K>): TopicConsumer {
  const filter =
    share === undefined ? topicFilter(topic, params) : sharedTopicFilter(share, topic, params);
  const filters = consumedFilters.get(mqtt) ?? new Set<string>();
  if (filters.has(filter)) throw new Error(`${filter} is consumed already on this client`);
  filters.add(filter);
  consumedFilters.set(mqtt, filters);

  const { qos } = topics[topic];
  const underWay = new Set<Promise<void>>();
  /** Messages read and checked, waiting for a handler slot. */
  const queued: Array<() => void> = [];
  let drained: (() => void) | undefined;
  let stopped = false;
  let subscribing = false;

  function subscribe() {
    // Once: after a reconnection mqtt.js subscribes again by itself.
    if (subscribing || stopped) return;
    subscribing = true;
    mqtt.off('connect', subscribe);
    mqtt.subscribeAsync(filter, { qos }).then(
      function subscribed() {
        log.info({ filter }, 'mqtt consumer subscribed');
      },
      function refused(error: unknown) {
        // SUBACK 0x80: the contract does not let this service read it; a wiring mistake.
        const { message } = error as { message?: string };
        log.error({ filter, err: { message } }, 'mqtt consumer subscription refused');
      },
    );
  }

  function failed(topicName: string, ids: Record<string, string>, error: unknown) {
    const { message, code } = error as { message?: string; code?: unknown };
    log.error({ topic: topicName, ...ids, err: { message, code } }, 'mqtt message handler failed');
  }

  function onMessage(topicName: string, payload: Buffer, packet: IPublishPacket) {
    if (stopped || !filterMatches(filter, topicName)) return;
    const message = parsePayload(topicName, payload);
    if (!message.ok || message.name !== topic) {
      log.warn(
        { topic: topicName, reason: message.ok ? 'other_topic' : message.reason },
        'mqtt message refused by the contract; dropped',
      );
      return;
    }
    const ids = messageIds(message.value);
    const run = () => {
      let work: Promise<void>;
      try {
        work = Promise.resolve(
          handle({
            topic: topicName,
            params: message.params as TopicParams<K>,
            value: message.value as TopicPayload<K>,
            retained: packet.retain,
          }),
        );
      } catch (error) {
        work = Promise.reject(error as Error);
      }
      const settled = work
        .catch((error: unknown) => failed(topicName, ids, error))
        .finally(() => {
          underWay.delete(settled);
          next();
        });
      underWay.add(settled);
    };
    if (underWay.size < concurrency) run();
    else queued.push(run);
  }

  /** Starts the next waiting message, if any; tells a stop waiting for the queue once it is empty. */
  function next() {
    const run = queued.shift();
    if (run) run();
    else if (underWay.size === 0) drained?.();
  }

  mqtt.on('message', onMessage);
  if (mqtt.connected) subscribe();
  else mqtt.on('connect', subscribe);

  return {
    name: `consumer ${filter}`,
    filter,
    async stop() {
      if (stopped) return;
      stopped = true;
      mqtt.off('message', onMessage);
      mqtt.off('connect', subscribe);
      filters.delete(filter);
      // Not awaited: an UNSUBACK never comes from a broker that is gone, and the client may end.
      if (subscribing && mqtt.connected) mqtt.unsubscribeAsync(filter).catch(() => undefined);
      // The messages already acknowledged are handled, queued ones included: none is dropped.
      if (underWay.size > 0 || queued.length > 0) {
        await new Promise<void>((resolve) => (drained = resolve));
      }
    },
  };
}
