import type { Aedes, Client } from 'aedes';
import { type Logger } from '@mercado/common/log';
import type { BrokerMetrics } from '../metrics.js';
import { describeClient, type Principals } from '../principals.js';

/**
 * MAX_INFLIGHT_PER_CLIENT: a client that stops acknowledging QoS 1 messages is disconnected
 * (checked every `checkEveryMs`), so a stuck consumer cannot grow the broker's memory; a shared
 * subscription member's unacknowledged messages then go to another member.
 *
 * QoS 1 messages in flight per client are counted from the client's packet identifier sequence
 * (aedes takes one per QoS 1 delivery: `client._nextId`, 1..65535, wrapping) against its
 * PUBACKs. Messages a resumed session gets again keep their identifiers and are not counted, so
 * the figure may run a little low after a resume, never high. Returns the stop function.
 */
export function guardInflight(
  aedes: Aedes,
  {
    maxInflight,
    log,
    metrics,
    principals,
    checkEveryMs = 1_000,
  }: {
    maxInflight: number;
    log: Logger;
    metrics: BrokerMetrics;
    principals: Principals;
    checkEveryMs?: number;
  },
): () => void {
  const inflight = new Map<Client, { lastId: number; sent: number; acked: number }>();
  const nextIdOf = (client: Client) => (client as unknown as { _nextId: number })._nextId;
  aedes.on('clientReady', function trackInflight(client) {
    inflight.set(client, { lastId: nextIdOf(client), sent: 0, acked: 0 });
  });
  aedes.on('ack', function countAck(_packet, client) {
    const state = inflight.get(client);
    if (state) state.acked++;
  });
  aedes.on('clientDisconnect', function untrackInflight(client) {
    inflight.delete(client);
  });
  function checkInflight(): void {
    for (const [client, state] of inflight) {
      const id = nextIdOf(client);
      state.sent += (id - state.lastId + 65_535) % 65_535;
      state.lastId = id;
      state.acked = Math.min(state.acked, state.sent);
      if (state.sent - state.acked <= maxInflight) continue;
      inflight.delete(client);
      const principal = principals.get(client);
      metrics.denied.inc({ action: 'inflight', kind: principal?.kind ?? 'unknown' });
      log.warn(
        { ...describeClient(principals, client), inflight: state.sent - state.acked },
        'mqtt client stopped acknowledging (MAX_INFLIGHT_PER_CLIENT); disconnected',
      );
      client.close();
    }
  }
  const timer = setInterval(checkInflight, checkEveryMs);
  timer.unref();
  return () => clearInterval(timer);
}
