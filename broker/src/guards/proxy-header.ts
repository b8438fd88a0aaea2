import type net from 'node:net';
import { type Logger } from '@mercado/common/log';
import type { BrokerMetrics } from '../metrics.js';
import { readProxyHeader } from '../proxy-protocol.js';
import type { TrustedProxies } from '../trusted-proxies.js';

/**
 * MQTT_PROXY_PORT's gate: a connection from a peer outside MQTT_PROXY_TRUSTED is closed at once,
 * unread (its header could name anyone); a trusted peer's must open with a valid PROXY header
 * within CONNECT_TIMEOUT_MS, or it is closed and nothing of it reaches aedes. `admit` gets the
 * socket, positioned after the header, with the client's address: the header's source, or the
 * peer's own for a header that names none (v1 UNKNOWN, v2 LOCAL: the balancer's own check).
 * Refusals are counted in `mqtt_denied_total{action="proxy",kind="untrusted"|"header"}` and
 * logged once per 1,000 (a scan would otherwise write a line per connection).
 */
export function createProxyHeaderGate({
  trusted,
  timeoutMs,
  log,
  metrics,
  admit,
}: {
  trusted: TrustedProxies;
  timeoutMs: number;
  log: Logger;
  metrics: BrokerMetrics;
  admit(socket: net.Socket, address: string): void;
}): (socket: net.Socket) => void {
  const refusals = { untrusted: 0, header: 0 };
  function refuse(
    socket: net.Socket,
    kind: keyof typeof refusals,
    detail: Record<string, unknown>,
  ): void {
    metrics.denied.inc({ action: 'proxy', kind });
    refusals[kind]++;
    if (refusals[kind] === 1 || refusals[kind] % 1_000 === 0) {
      log.warn(
        { peer: socket.remoteAddress, ...detail, refusedTotal: refusals[kind] },
        kind === 'untrusted'
          ? 'mqtt PROXY connection from an untrusted peer; closed'
          : 'mqtt PROXY header missing or invalid; connection closed',
      );
    }
    socket.destroy();
  }
  return function acceptProxied(socket) {
    const peer = socket.remoteAddress;
    if (!trusted.trusts(peer)) {
      refuse(socket, 'untrusted', {});
      return;
    }
    readProxyHeader(socket, timeoutMs).then(
      function headerRead(header) {
        admit(socket, header.source?.address ?? peer!);
      },
      function headerRefused(error: Error) {
        refuse(socket, 'header', { reason: error.message });
      },
    );
  };
}
