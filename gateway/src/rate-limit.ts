import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit, type Options, type Store } from 'express-rate-limit';
import { gatewayError } from './errors.js';

export interface RateLimitSettings {
  windowMs: number;
  /** Requests per window from one client address; 0 turns the limit off. */
  perIp: number;
  /** Requests per window from one signed-in user, whatever their address; 0 turns it off. */
  perUser: number;
  /**
   * Where counts are kept: this process's memory when absent, else the store this returns for a
   * limit's name (Redis, shared by every replica). A failing store lets requests through.
   */
  store?: ((name: string) => Store) | undefined;
  /** Called when the shared store fails a request's count (the request goes through). */
  onStoreError?: ((error: unknown) => void) | undefined;
}

const callerKey = Symbol('mercado.rateLimitCaller');
type KeyedRequest = Request & { [callerKey]?: string };

/**
 * The answer once a limit is spent: problem+json 429 with Retry-After (RFC 9110 §10.2.3). The
 * RateLimit-* headers (IETF draft 6: Limit, Remaining, Reset, Policy) are on every response.
 */
function limited(req: Request, _res: Response, next: NextFunction): void {
  const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
  const seconds = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : 1;
  next(gatewayError('rate_limited', { headers: { 'retry-after': String(seconds) } }));
}

function limiter(
  name: string,
  limit: number,
  key: Options['keyGenerator'],
  { windowMs, store, onStoreError = () => undefined }: RateLimitSettings,
) {
  return rateLimit({
    windowMs,
    limit,
    identifier: name,
    // A shop stays open when its limiter's store does not answer: limits protect, they are not
    // what keeps data correct. The outage itself is logged once by the store's connection.
    ...(store
      ? {
          store: store(name),
          passOnStoreError: true,
          logger: { error: onStoreError, warn: onStoreError },
        }
      : {}),
    standardHeaders: 'draft-6',
    legacyHeaders: false,
    keyGenerator: key,
    handler: limited,
    // Our own 429 is the only response the limiter writes; nothing else of it runs per request.
    validate: { trustProxy: false, xForwardedForHeader: false },
  });
}

export interface RateLimits {
  /** Per client address, before anything else is done for the request. */
  byIp: RequestHandler | undefined;
  /** Per user, once the token is verified; calls `next` when within the limit. */
  byUser(req: Request, res: Response, userId: string, next: NextFunction): void;
}

/**
 * Without a store, limits are counted in this gateway process's memory: behind N replicas balanced
 * round robin a client spreads over all of them, so the effective limit is about N times the
 * configured one. With a shared store (RATE_LIMIT_REDIS_URL) every replica counts together. See
 * gateway/README.md.
 */
export function createRateLimits(settings: RateLimitSettings): RateLimits {
  const { perIp, perUser } = settings;
  const byIp =
    perIp > 0
      ? limiter('ip', perIp, (req) => ipKeyGenerator(req.ip ?? 'unknown'), settings)
      : undefined;
  const userLimiter =
    perUser > 0
      ? limiter('user', perUser, (req) => (req as KeyedRequest)[callerKey] ?? '', settings)
      : undefined;
  return {
    byIp,
    byUser(req, res, userId, next) {
      if (!userLimiter) {
        next();
        return;
      }
      (req as KeyedRequest)[callerKey] = userId;
      void userLimiter(req, res, next);
    },
  };
}
