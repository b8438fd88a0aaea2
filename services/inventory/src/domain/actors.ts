import type { Identity } from '@mercado/common/identity';

/** Who made a change, as the ledger records it: `user:{id}` or `service:{name}`. */
export function actorOf(identity: Identity): string {
  if (identity.service) return `service:${identity.service}`;
  return `user:${identity.userId ?? 'anonymous'}`;
}
