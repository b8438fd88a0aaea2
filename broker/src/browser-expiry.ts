import type { Aedes, Client } from 'aedes';
import { type Logger } from '@mercado/common/log';
import type { Clock } from './clock.js';
import type { Accepted } from './hooks/authenticate.js';
import type { BrokerMetrics } from './metrics.js';
import type { Principals } from './principals.js';

/** setTimeout's longest delay (2^31 - 1 ms, ~24.8 days); a longer one would fire at once. */
const maxDelayMs = 2 ** 31 - 1;

/**
 * A browser's connection lasts as long as the access token it connected with: at the token's
 * `exp` the broker closes it, so reconnecting takes a fresh token (docs/architecture.md,
 * "Credentials between parts"). The timer starts once the connection is ready and goes with it.
 * Counted in `mqtt_denied_total{action="expired",kind="browser"}`.
 */
export function disconnectAtExpiry(
  aedes: Aedes,
  {
    clock,
    log,
    metrics,
    principals,
  }: { clock: Clock; log: Logger; metrics: BrokerMetrics; principals: Principals },
): { accepted(client: Client, accepted: Accepted): void; stop(): void } {
  const expiries = new WeakMap<Client, number>();
  const timers = new Map<Client, unknown>();

  function schedule(client: Client, expiresAt: number): void {
    const delay = expiresAt - clock.now();
    if (delay > maxDelayMs) {
      timers.set(
        client,
        clock.setTimeout(() => schedule(client, expiresAt), maxDelayMs),
      );
      return;
    }
    timers.set(
      client,
      clock.setTimeout(
        function tokenExpired() {
          timers.delete(client);
          if (client.closed) return;
          const principal = principals.get(client);
          metrics.denied.inc({ action: 'expired', kind: 'browser' });
          log.info(
            { clientId: client.id, userId: principal?.kind === 'browser' ? principal.userId : '' },
            'browser access token expired; disconnected',
          );
          client.close();
        },
        Math.max(0, delay),
      ),
    );
  }

  aedes.on('clientReady', function startExpiryTimer(client) {
    const expiresAt = expiries.get(client);
    if (expiresAt !== undefined) schedule(client, expiresAt);
  });
  aedes.on('clientDisconnect', function stopExpiryTimer(client) {
    const timer = timers.get(client);
    if (timer === undefined) return;
    clock.clearTimeout(timer);
    timers.delete(client);
  });

  return {
    accepted(client, { principal, claims }) {
      if (principal.kind === 'browser' && typeof claims?.exp === 'number') {
        expiries.set(client, claims.exp * 1_000);
      }
    },
    stop() {
      for (const timer of timers.values()) clock.clearTimeout(timer);
      timers.clear();
    },
  };
}
