import type { Identity } from '@mercado/common/identity';
import type { Actor } from '../domain/deps.js';

/** The signed-in caller as the domain sees them; undefined for anonymous callers. */
export function actorOf(identity: Identity): Actor | undefined {
  if (!identity.userId) return undefined;
  return { userId: identity.userId, isAdmin: identity.roles.includes('admin') };
}

/** For routes behind requireRole, which has already refused anonymous callers. */
export function signedInActor(identity: Identity): Actor {
  const actor = actorOf(identity);
  if (!actor) throw new Error('signedInActor used on a route without requireRole');
  return actor;
}
