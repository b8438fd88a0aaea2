import { AppError } from '../errors/app-error.js';
import type { Identity, Role } from './identity.js';

/** An operation for other Mercado services only, and which of them may call it. */
export interface ServiceAccess {
  readonly services: readonly string[];
}

/**
 * Who may call an operation: anyone, any signed-in user, users holding one of some roles, or some
 * other services (never through the gateway, which signs no service identity).
 */
export type Access = 'public' | 'authenticated' | readonly Role[] | ServiceAccess;

/** A signed-in caller: the gateway verified their access token. */
export type SignedInIdentity = Identity & { userId: string };

/** Another Mercado service, one of those an operation names. */
export type ServiceIdentity<S extends string = string> = Identity & { service: S };

/** What an operation declared `access: A` knows of its caller once admitted. */
export type CallerOf<A extends Access> = A extends 'public'
  ? Identity
  : A extends ServiceAccess
    ? ServiceIdentity<A['services'][number]>
    : SignedInIdentity;

export function isServiceAccess(access: Access): access is ServiceAccess {
  return typeof access === 'object' && 'services' in access;
}

/** Refuses an access a route cannot mean: an empty list would admit nobody (or everybody). */
export function checkAccess(access: Access): void {
  if (access === 'public' || access === 'authenticated') return;
  if (isServiceAccess(access)) {
    if (access.services.length === 0) throw new Error('service access must name its callers');
    return;
  }
  if (access.length === 0) throw new Error("roles access must name roles (or be 'authenticated')");
}

/**
 * The caller, when `access` admits them: 401 `unauthorized` without the identity it needs (a user
 * for user routes, a service for service routes), 403 `forbidden` with the wrong one.
 */
export function admit<A extends Access>(access: A, identity: Identity): CallerOf<A> {
  if (access === 'public') return identity as CallerOf<A>;
  if (isServiceAccess(access)) {
    if (!identity.service) {
      throw new AppError('unauthorized', { detail: 'Internal route: services only' });
    }
    if (!access.services.includes(identity.service)) {
      throw new AppError('forbidden', { detail: `Not open to service ${identity.service}` });
    }
    return identity as CallerOf<A>;
  }
  if (!identity.userId) throw new AppError('unauthorized');
  if (access !== 'authenticated' && !identity.roles.some((role) => access.includes(role))) {
    throw new AppError('forbidden');
  }
  return identity as CallerOf<A>;
}

export function describeAccess(access: Access): string {
  if (access === 'public') return 'Anyone.';
  if (access === 'authenticated') return 'Any signed-in user.';
  if (isServiceAccess(access)) return `Other Mercado services only: ${access.services.join(', ')}.`;
  return `Roles: ${access.join(', ')}.`;
}
