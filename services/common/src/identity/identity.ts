import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError } from '../errors/app-error.js';

export const roles = ['customer', 'seller', 'admin', 'terminal'] as const;
export type Role = (typeof roles)[number];

/** Who is calling, as the gateway verified it. `userId` is absent for anonymous callers. */
export interface Identity {
  userId?: string;
  roles: Role[];
  /** The client's address as the gateway saw it (for per-IP limits). */
  ip?: string;
  /**
   * Set only when another Mercado service calls (service to service, never through the gateway,
   * which never signs it): the calling service's name. Internal routes require it.
   */
  service?: string;
}

/**
 * Identity travels from the gateway to services in two headers: the identity (base64url JSON) and
 * an HMAC-SHA256 of it under the internal secret both share. The secret itself never travels, a
 * client cannot forge the pair, and the gateway strips any such headers a client sends.
 */
export const identityHeader = 'x-mercado-identity';
export const identitySignatureHeader = 'x-mercado-identity-signature';
/** How long a signed identity stays acceptable; it is signed per request, so this only bounds replay. */
const maxAgeSeconds = 60;

interface Envelope extends Identity {
  iat: number;
}

function sign(payload: string, secret: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

export function signIdentity(
  identity: Identity,
  secret: string,
  now = Date.now(),
): Record<string, string> {
  const envelope: Envelope = { ...identity, iat: Math.floor(now / 1000) };
  const payload = Buffer.from(JSON.stringify(envelope)).toString('base64url');
  return { [identityHeader]: payload, [identitySignatureHeader]: sign(payload, secret) };
}

/** Returns the identity when the headers are present and genuine, null when absent; throws when forged. */
export function verifyIdentity(
  headers: Record<string, string | string[] | undefined>,
  secret: string,
  now = Date.now(),
): Identity | null {
  const payload = headers[identityHeader];
  const signature = headers[identitySignatureHeader];
  if (payload === undefined && signature === undefined) return null;
  if (typeof payload !== 'string' || typeof signature !== 'string') {
    throw new AppError('invalid_identity');
  }
  const expected = Buffer.from(sign(payload, secret));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new AppError('invalid_identity');
  }
  let envelope: Envelope;
  try {
    envelope = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Envelope;
  } catch {
    throw new AppError('invalid_identity');
  }
  const age = Math.floor(now / 1000) - envelope.iat;
  if (!Number.isFinite(age) || age > maxAgeSeconds || age < -maxAgeSeconds) {
    throw new AppError('invalid_identity', { detail: 'The signed identity is stale' });
  }
  return {
    ...(envelope.userId ? { userId: envelope.userId } : {}),
    roles: Array.isArray(envelope.roles) ? envelope.roles : [],
    ...(envelope.ip ? { ip: envelope.ip } : {}),
    ...(typeof envelope.service === 'string' ? { service: envelope.service } : {}),
  };
}

declare module 'express-serve-static-core' {
  interface Request {
    identity: Identity;
  }
}

/**
 * Sets `req.identity` from the gateway's signed headers. Without them the caller is anonymous
 * (services are not reachable from outside; see README); with forged ones the request is 401.
 */
export function identityFromGateway(secret: string): RequestHandler {
  return function readIdentity(req: Request, _res: Response, next: NextFunction) {
    const identity = verifyIdentity(req.headers, secret);
    req.identity = identity ?? { roles: [] };
    next();
  };
}
