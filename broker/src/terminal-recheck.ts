import type { Aedes, Client } from 'aedes';
import { type Logger } from '@mercado/common/log';
import type { BrokerMetrics } from './metrics.js';
import type { Accepted } from './hooks/authenticate.js';
import type { TerminalVerifier } from './terminal-verifier.js';

/**
 * Connected terminals are checked against the registry again, so a deleted terminal or a rotated
 * secret loses its connection (its reconnect is then refused):
 * - at once for one terminal (`revoked`: the users service announced the change): its cached
 *   answers are forgotten and its connections asked about afresh; one the registry cannot answer
 *   for is closed too, since its credentials were just revoked (it reconnects when it can);
 * - every `intervalMs`, for all of them, in case an announcement was missed (then a registry
 *   that cannot answer leaves them connected), and on `recheckAll` (a gap in the announcements).
 * Connected terminals' secrets are kept in memory only, for this.
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
): {
  accepted(client: Client, accepted: Accepted): void;
  revoked(terminalId: string): void;
  recheckAll(): void;
  stop(): void;
} {
  const secrets = new Map<Client, { terminalId: string; secret: Buffer }>();
  aedes.on('clientDisconnect', function forgetTerminalSecret(client) {
    secrets.delete(client);
  });

  function recheck(client: Client, terminalId: string, secret: Buffer, closeIfUnknown: boolean) {
    function cutOff(): void {
      if (!secrets.has(client)) return;
      secrets.delete(client);
      metrics.denied.inc({ action: 'recheck', kind: 'terminal' });
      log.warn({ terminalId }, 'terminal no longer registered; disconnected');
      client.close();
    }
    verifyTerminal!(terminalId, secret).then(
      function rechecked(valid) {
        if (!valid) cutOff();
      },
      function recheckFailed(error: unknown) {
        log.warn({ err: { message: String(error) } }, 'terminal recheck unavailable');
        if (closeIfUnknown) cutOff();
      },
    );
  }

  function recheckAll(): void {
    if (!verifyTerminal) return;
    for (const [client, { terminalId, secret }] of secrets) {
      recheck(client, terminalId, secret, false);
    }
  }
  const timer = setInterval(recheckAll, intervalMs);
  timer.unref();

  return {
    accepted(client, { principal, password }) {
      if (principal.kind === 'terminal') {
        secrets.set(client, { terminalId: principal.terminalId, secret: password });
      }
    },
    revoked(terminalId) {
      if (!verifyTerminal) return;
      verifyTerminal.forget?.(terminalId);
      for (const [client, connected] of secrets) {
        if (connected.terminalId === terminalId)
          recheck(client, terminalId, connected.secret, true);
      }
    },
    recheckAll() {
      verifyTerminal?.forget?.();
      recheckAll();
    },
    stop: () => clearInterval(timer),
  };
}
