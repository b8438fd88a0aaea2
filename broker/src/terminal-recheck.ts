import type { Aedes, Client } from 'aedes';
import { type Logger } from '@mercado/common/log';
import type { BrokerMetrics } from './metrics.js';
import type { Accepted } from './hooks/authenticate.js';
import type { TerminalVerifier } from './terminal-verifier.js';

/**
 * A terminal deleted from the registry, or whose secret was rotated, is disconnected at the next
 * check, every `intervalMs` (its reconnect is then refused). When the registry cannot answer,
 * terminals stay. Connected terminals' secrets are kept in memory only, for this. Returns what
 * `authenticate` tells of an accepted connection, and the stop function.
 */
export function recheckTerminals(
  aedes: Aedes,
  {
    verifyTerminal,
    intervalMs,
    log,
    metrics,
  }: {
    verifyTerminal: TerminalVerifier | undefined;
    intervalMs: number;
    log: Logger;
    metrics: BrokerMetrics;
  },
): { accepted(client: Client, accepted: Accepted): void; stop(): void } {
  const secrets = new Map<Client, { terminalId: string; secret: Buffer }>();
  aedes.on('clientDisconnect', function forgetTerminalSecret(client) {
    secrets.delete(client);
  });

  function recheck(): void {
    if (!verifyTerminal) return;
    for (const [client, { terminalId, secret }] of secrets) {
      verifyTerminal(terminalId, secret).then(
        function rechecked(valid) {
          if (valid || !secrets.has(client)) return;
          secrets.delete(client);
          metrics.denied.inc({ action: 'recheck', kind: 'terminal' });
          log.warn({ terminalId }, 'terminal no longer registered; disconnected');
          client.close();
        },
        function recheckFailed(error: unknown) {
          log.warn({ err: { message: String(error) } }, 'terminal recheck unavailable');
        },
      );
    }
  }
  const timer = setInterval(recheck, intervalMs);
  timer.unref();

  return {
    accepted(client, { principal, password }) {
      if (principal.kind === 'terminal') {
        secrets.set(client, { terminalId: principal.terminalId, secret: password });
      }
    },
    stop: () => clearInterval(timer),
  };
}
