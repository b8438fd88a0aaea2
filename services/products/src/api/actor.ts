import type { Identity, SignedInIdentity } from '@mercado/common/identity';
import type { Actor } from '../domain/deps.js';

/** A signed-in caller as the domain sees them (operations open to users guarantee one). */
export function signedInActor(identity: SignedInIdentity): Actor {
  return { userId: identity.userId, isAdmin: identity.roles.includes('admin') };
}

/** The caller of a public operation as the domain sees them; undefined when anonymous. */
export function actorOf(identity: Identity): Actor | undefined {
  return identity.userId ? signedInActor({ ...identity, userId: identity.userId }) : undefined;
}
