import type { Aedes, Client } from 'aedes';
import { type Logger } from '@mercado/common/log';
import type { BrokerMetrics } from '../metrics.js';

/**
 * New connections per client address: a token bucket per address holding a quarter of the
 * per-minute rate as its burst, refilled continuously. A storm of connects from one address is
 * refused (CONNACK is never sent; the socket closes) while every other address connects as usual.
 * Buckets of addresses that went quiet are forgotten, so the map stays bounded.
 */
export function createConnectionRateLimit(
  perMinute: number,
  now: () => number = Date.now,
  maxAddresses = 100_000,
): (address: string) => boolean {
  const burst = Math.max(1, Math.floor(perMinute / 4));
  const refillPerMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return function allowConnection(address: string): boolean {
    const time = now();
    const bucket = buckets.get(address) ?? { tokens: burst, at: time };
    bucket.tokens = Math.min(burst, bucket.tokens + (time - bucket.at) * refillPerMs);
    bucket.at = time;
    // Most recently seen last, so the first entry is the one quiet the longest.
    buckets.delete(address);
    buckets.set(address, bucket);
    if (buckets.size > maxAddresses) buckets.delete(buckets.keys().next().value!);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };
}

export interface ConnectionRateGuard {
  /** aedes' `preConnect` hook: refuses a connection from an address past its rate. */
  preConnect: Aedes['preConnect'];
  /** Where a connection comes from (called as the broker takes its stream). */
  remember(client: Client, address: string): void;
  /** The address remembered for a connection, for log lines. */
  addressOf(client: Client): string | undefined;
}

/**
 * CONNECTIONS_PER_IP_PER_MINUTE at the broker: a refused connection is closed without a CONNACK,
 * counted in `mqtt_denied_total{action="connect",kind="rate"}` and logged once per 1,000.
 */
export function createConnectionRateGuard({
  perMinute,
  log,
  metrics,
  now = Date.now,
}: {
  perMinute: number;
  log: Logger;
  metrics: BrokerMetrics;
  /** The clock, in milliseconds (tests move it). */
  now?: () => number;
}): ConnectionRateGuard {
  const allowConnection = createConnectionRateLimit(perMinute, now);
  const addresses = new WeakMap<Client, string>();
  let refusals = 0;
  return {
    preConnect(client, _packet, done) {
      const address = addresses.get(client) ?? 'unknown';
      if (allowConnection(address)) {
        done(null, true);
        return;
      }
      metrics.denied.inc({ action: 'connect', kind: 'rate' });
      // A storm would otherwise write one line per refused connection.
      refusals++;
      if (refusals === 1 || refusals % 1_000 === 0) {
        log.warn({ address, refusedTotal: refusals }, 'mqtt connection rate exceeded');
      }
      // An error, not `done(null, false)`: aedes 1.2 leaves the socket open on a plain `false`
      // (no CONNACK, no close), which would keep every refused connection of a storm alive.
      done(new Error('connection rate exceeded'), false);
    },
    remember(client, address) {
      addresses.set(client, address);
    },
    addressOf: (client) => addresses.get(client),
  };
}
