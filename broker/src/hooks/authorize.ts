import type { Aedes } from 'aedes';
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
 * aedes' `authorizePublish` hook: the topic contract decides who may publish where (a refusal
 * ends the connection, MQTT-3.3.5-2), and, for the senders VALIDATE_PAYLOADS_FROM names, whether
 * the payload is what the topic carries.
 */
export function createAuthorizePublish({
  config,
  log,
  metrics,
  principals,
}: AuthorizeDeps): Aedes['authorizePublish'] {
  const validateAll = config.VALIDATE_PAYLOADS_FROM === 'all';
  return function authorizePublish(client, packet, done) {
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
      // Dropped, not refused: the sender's connection stays (it may be a service mid-batch);
      // the message goes to a topic no one may subscribe, unretained. Never log the payload.
      metrics.invalid.inc({ reason: checked.reason.split(':')[0]! });
      log.warn(
        {
          clientId: client.id,
          topic: packet.topic,
          reason: checked.reason,
          ...describe(principal),
        },
        'mqtt payload dropped: not as the contract says',
      );
      packet.topic = '$mercado/dropped';
      packet.retain = false;
      done(null);
      return;
    }
    metrics.countIn(principal.kind);
    done(null);
  };
}

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
