import type { Client } from 'aedes';
import type { Principal } from '@mercado/common/contract';

export type Kind = Principal['kind'];
export const kinds = ['service', 'browser', 'terminal'] as const satisfies readonly Kind[];

/** Who each authenticated connection is: set by `authenticate`, read by every other hook. */
export type Principals = WeakMap<Client, Principal>;

/** A principal's ids for a log line or a metric (never a credential). */
export function describe(principal: Principal): Record<string, string> {
  switch (principal.kind) {
    case 'service':
      return { kind: 'service', service: principal.service };
    case 'terminal':
      return { kind: 'terminal', terminalId: principal.terminalId };
    case 'browser':
      return { kind: 'browser', userId: principal.userId };
  }
}

/** `describe` for a connection that may not have authenticated. */
export function describeClient(principals: Principals, client: Client): Record<string, string> {
  const principal = principals.get(client);
  return { clientId: client.id, ...(principal ? describe(principal) : {}) };
}
