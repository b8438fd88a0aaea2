import type { Aedes, AedesPublishPacket, Client } from 'aedes';
import { checkPublish, maySubscribe } from '@mercado/common/contract';
import { type Logger } from '@mercado/common/log';
import type { BrokerConfig } from '../config.js';
import type { BrokerMetrics } from '../metrics.js';
import { describe, describeClient, type Principals } from '../principals.js';

export interface AuthorizeDeps {
  config: BrokerConfig;
  log: Logger;
  metrics: BrokerMetrics;
  principals: Principals;
}

/**
 * aedes' `authorizePublish` hook, set on `aedes`: the topic contract decides who may publish where
 * (a refusal ends the connection, MQTT-3.3.5-2), and, for the senders VALIDATE_PAYLOADS_FROM
 * names, whether the payload is what the topic carries.
 *
 * An invalid payload is dropped, not refused: the sender stays connected (it may be a service
 * mid-batch) and is acknowledged as usual, which MQTT 3.1.1 allows as the one alternative to
 * closing the connection (MQTT-3.3.5-2). aedes has no way to say "acknowledge but do not
 * publish" from this hook (an error closes the connection; aedes issue #210: "there is none in
 * MQTT 3.1.1"), so the hook marks the packet and `aedes.publish`, which aedes calls with that same
 * packet once it has answered the sender (PUBACK, or PUBREC for QoS 2), is wrapped to skip a
 * marked one: the message reaches no subscriber, no retained store and no other node.
 */
export function authorizePublishes(
  aedes: Aedes,
  { config, log, metrics, principals }: AuthorizeDeps,
): void {
  const validateAll = config.VALIDATE_PAYLOADS_FROM === 'all';
  const dropped = new WeakSet<object>();

  aedes.authorizePublish = function authorizePublish(client, packet, done) {
    // A null client is the broker's own publish (a will is published with its client).
    if (!client) {
      done(null);
      return;
    }
    const principal = principals.get(client);
    const checked = principal
      ? checkPublish(principal, packet.topic, packet.payload as Buffer, {
          retain: packet.retain,
          validate: validateAll || principal.kind !== 'service',
        })
      : undefined;
    if (!principal || !checked || (!checked.ok && checked.denied)) {
      metrics.denied.inc({ action: 'publish', kind: principal?.kind ?? 'unknown' });
      log.warn(
        { ...describeClient(principals, client), topic: packet.topic },
        'mqtt publish denied; client disconnected',
      );
      done(new Error('publish not allowed'));
      return;
    }
    if (!checked.ok) {
      // Never log the payload: ids, topic and the contract's reason (it names fields only).
      metrics.invalid.inc({ reason: checked.reason.split(':')[0]! });
      log.warn(
        {
          ...describe(principal),
          clientId: client.id,
          topic: packet.topic,
          reason: checked.reason,
        },
        'mqtt payload dropped: not as the contract says',
      );
      dropped.add(packet);
      done(null);
      return;
    }
    metrics.countIn(principal.kind);
    done(null);
  };

  const publish = aedes.publish.bind(aedes) as PublishWithClient;
  (aedes as { publish: PublishWithClient }).publish = function publishUnlessDropped(
    packet,
    client,
    done,
  ) {
    if (!dropped.has(packet)) {
      publish(packet, client, done);
      return;
    }
    dropped.delete(packet);
    const callback = typeof client === 'function' ? client : done;
    callback?.();
  };
}

/** aedes' own signature of publish (its types leave out the client its handlers pass). */
type PublishWithClient = (
  packet: AedesPublishPacket,
  client?: Client | null | ((error?: Error) => void),
  done?: (error?: Error) => void,
) => void;

/**
 * aedes' `authorizeSubscribe` hook: a filter the contract does not grant gets SUBACK 0x80
 * (MQTT-3.9.3); the connection stays.
 */
export function createAuthorizeSubscribe({
  log,
  metrics,
  principals,
}: Omit<AuthorizeDeps, 'config'>): Aedes['authorizeSubscribe'] {
  return function authorizeSubscribe(client, subscription, done) {
    const principal = principals.get(client);
    if (!principal || !maySubscribe(principal, subscription.topic)) {
      metrics.denied.inc({ action: 'subscribe', kind: principal?.kind ?? 'unknown' });
      log.warn(
        { ...describeClient(principals, client), filter: subscription.topic },
        'mqtt subscribe denied',
      );
      done(null, null);
      return;
    }
    done(null, subscription);
  };
}
