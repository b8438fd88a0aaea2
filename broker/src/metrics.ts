import type { Aedes } from 'aedes';
import { Counter, Gauge } from 'prom-client';
import { type Metrics } from '@mercado/common/metrics';
import { kinds, type Kind, type Principals } from './principals.js';
import type { SharedSubscriptions } from './shared-subscriptions.js';

export interface BrokerMetrics {
  /** Refused connects, publishes, subscribes and connections ended by a guard. */
  denied: Counter<'action' | 'kind'>;
  /** Payloads dropped for not matching the topic contract. */
  invalid: Counter<'reason'>;
  /** One accepted PUBLISH from a client of this kind. */
  countIn(kind: Kind): void;
  /**
   * Follows the broker: the connected gauge on aedes' clientReady / clientDisconnect, and every
   * delivery its `authorizeForward` lets through (call it after the broker's own forwarding rules
   * are set and before anything wraps them, such as the shared subscriptions).
   */
  attach(aedes: Aedes, principals: Principals): void;
}

/**
 * The broker's Prometheus metrics: `mqtt_connected_clients{kind}`, `mqtt_messages_in_total{kind}`,
 * `mqtt_messages_out_total`, `mqtt_denied_total{action,kind}`, `mqtt_invalid_payloads_total{reason}`.
 */
export function createBrokerMetrics(metrics: Metrics): BrokerMetrics {
  const registers = [metrics.registry];
  const connected = new Gauge({
    name: 'mqtt_connected_clients',
    help: 'Connected MQTT clients by kind',
    labelNames: ['kind'],
    registers,
  });
  for (const kind of kinds) connected.set({ kind }, 0);

  // Per message, a plain number: prom-client's inc() validates its argument and labels on every
  // call, a cost worth avoiding at 100k+ messages a second. Scrapes read the numbers.
  const counted = {
    in: { service: 0, browser: 0, terminal: 0 } satisfies Record<Kind, number>,
    out: 0,
  };
  const reportedIn = { service: 0, browser: 0, terminal: 0 };
  new Counter({
    name: 'mqtt_messages_in_total',
    help: 'PUBLISH packets accepted from clients',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const kind of kinds) {
        this.inc({ kind }, counted.in[kind] - reportedIn[kind]);
        reportedIn[kind] = counted.in[kind];
      }
    },
  });
  let reportedOut = 0;
  new Counter({
    name: 'mqtt_messages_out_total',
    help: 'PUBLISH packets delivered to clients',
    registers,
    collect() {
      this.inc(counted.out - reportedOut);
      reportedOut = counted.out;
    },
  });

  return {
    denied: new Counter({
      name: 'mqtt_denied_total',
      help: 'Refused connects, publishes and subscribes',
      labelNames: ['action', 'kind'],
      registers,
    }),
    invalid: new Counter({
      name: 'mqtt_invalid_payloads_total',
      help: 'Published payloads dropped for not matching the topic contract',
      labelNames: ['reason'],
      registers,
    }),
    countIn(kind) {
      counted.in[kind]++;
    },
    attach(aedes, principals) {
      aedes.on('clientReady', function countConnected(client) {
        const principal = principals.get(client);
        if (principal) connected.inc({ kind: principal.kind });
      });
      aedes.on('clientDisconnect', function countDisconnected(client) {
        const principal = principals.get(client);
        if (principal) connected.dec({ kind: principal.kind });
      });
      const forward = aedes.authorizeForward.bind(aedes);
      aedes.authorizeForward = function countForward(client, packet) {
        const delivered = forward(client, packet);
        if (delivered) counted.out++;
        return delivered;
      };
    },
  };
}

/** The shared subscriptions' gauges and counters, read at each scrape. */
export function registerSharedMetrics(metrics: Metrics, shared: SharedSubscriptions): void {
  const registers = [metrics.registry];
  const gauges = {
    mqtt_shared_groups: ['Shared subscriptions with members or waiting messages', shared.groups],
    mqtt_shared_members: ['Members of shared subscriptions, online or not', shared.members],
    mqtt_shared_inflight: ['Shared QoS 1 messages not yet acknowledged', shared.inflight],
    mqtt_shared_pending: ['Shared messages waiting for a connected member', shared.pending],
  } as const;
  for (const [name, [help, read]] of Object.entries(gauges)) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  }
  const counters = {
    mqtt_shared_redelivered_total: [
      'Shared messages taken back from a departed member',
      shared.redelivered,
    ],
    mqtt_shared_dropped_total: ['Shared messages dropped (queue full, or refused)', shared.dropped],
  } as const;
  for (const [name, [help, read]] of Object.entries(counters)) {
    let reported = 0;
    new Counter({
      name,
      help,
      registers,
      collect() {
        const total = read();
        if (total > reported) this.inc(total - reported);
        reported = total;
      },
    });
  }
}
