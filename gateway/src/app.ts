import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import cors from 'cors';
import { Counter } from 'prom-client';
import type { JWTVerifyGetKey } from 'jose';
import { AppError } from '@mercado/common/errors';
import { buildHttpApp, serveStaticSite } from '@mercado/common/http';
import { type Identity, type Role } from '@mercado/common/identity';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import {
  createRemoteKeySet,
  createTokenVerifier,
  forbidden,
  tokenRevoked,
  unauthorized,
  type Caller,
} from './auth.js';
import type { GatewayConfig } from './config.js';
import { createApiDocs } from './docs.js';
import { createHealthHandler } from './health.js';
import { createLiveBridge } from './live.js';
import {
  compilePolicy,
  isAllowed,
  isMethodNotAllowed,
  serviceNames,
  type CompiledRoute,
  type ServiceName,
} from './policy.js';
import { MicroCache } from './micro-cache.js';
import { createUpstreamProxy } from './proxy.js';
import { createRateLimits } from './rate-limit.js';
import {
  connectRateLimitRedis,
  rateLimitRedisReady,
  RedisRateLimitStore,
} from './rate-limit-store.js';
import { createPaymentBridge } from './payments.js';
import { startRevocationWatch } from './revocations.js';
import { securityHeaders } from './security-headers.js';
import { UpstreamPool } from './upstreams.js';

export { loadGatewayConfig, gatewaySettings, type GatewayConfig } from './config.js';
export {
  policy,
  compilePolicy,
  routeOwners,
  serviceNames,
  type PolicyEntry,
  type Access,
  type HttpMethod,
  type ServiceName,
} from './policy.js';

export interface GatewayDeps {
  config: GatewayConfig;
  log: Logger;
  metrics: Metrics;
  /**
   * Resolves the key that verifies an access token. Defaults to the users service's JWKS fetched
   * over HTTP and cached; tests may pass a local key set.
   */
  keySet?: JWTVerifyGetKey;
  /** Set while shutting down, so readiness fails and the load balancer stops sending traffic. */
  isShuttingDown?: () => boolean;
  /**
   * The clock (epoch ms) that breakers, the micro-cache, remembered tokens and the keys' age go
   * by; tests pass one they move by hand, so nothing waits for real time to pass.
   */
  now?: () => number;
}

export interface Gateway {
  /** The express app; it does not listen. */
  app: Express;
  /**
   * For the HTTP server's `upgrade` event: `/mqtt` passed through to the broker (BROKER_WS_URL),
   * any other upgrade refused.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Resolves once what the gateway needs before taking traffic is there (the shared rate-limit
   * store, the revocation list), or after `timeoutMs` with false; the gateway works either way
   * (without the list, signed-in requests get 503 until it arrives).
   */
  ready(timeoutMs?: number): Promise<boolean>;
  /** Releases upstream connections; call after the HTTP server has closed. */
  close(): Promise<void>;
}

type LocalHandler = (req: Request, res: Response) => Promise<void>;
type CallerHandler = (req: Request, res: Response, caller: Caller) => Promise<void>;

/** A part that runs only with a broker: without one, its routes answer 503. */
function unavailableWithout<T>(part: T | undefined): T {
  if (part === undefined) throw new AppError('service_unavailable');
  return part;
}

const noRoles: Role[] = [];

/**
 * The client's address under the `trust proxy` setting. Without X-Forwarded-For it can only be the
 * peer, so express's address parsing is skipped.
 */
function clientAddress(req: Request): string | undefined {
  return req.headers['x-forwarded-for'] === undefined ? req.socket.remoteAddress : req.ip;
}

/** Browser origins from the allow-list get CORS headers; others get none, so browsers block them. */
function corsPolicy(origins: readonly string[]): RequestHandler | undefined {
  if (origins.length === 0) return undefined;
  const handler = cors({
    origin: [...origins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    // Cart-Token: a guest's cart (sent back on the next call); Idempotent-Replayed: a stored answer.
    exposedHeaders: [
      'X-Request-Id',
      'Location',
      'Retry-After',
      'WWW-Authenticate',
      'Allow',
      'Cart-Token',
      'Idempotent-Replayed',
    ],
    maxAge: 600,
  });
  return function applyCors(req, res, next) {
    // Same answer cors gives without an Origin, minus its work on every server-to-server call.
    if (req.headers.origin === undefined) {
      res.setHeader('Vary', 'Origin');
      next();
      return;
    }
    handler(req, res, next);
  };
}

/**
 * Builds the gateway (never listens): the kit's HTTP app (request ids, access log, metrics,
 * health, problem+json) with security headers, CORS, the policy check, token verification, and
 * the proxy that streams requests to services with the caller's signed identity.
 */
export function buildGateway({
  config,
  log,
  metrics,
  keySet,
  isShuttingDown = () => false,
  now = Date.now,
}: GatewayDeps): Gateway {
  const pools = new Map<ServiceName, UpstreamPool>();
  for (const name of serviceNames) {
    const urls = config.upstreams[name];
    if (urls)
      pools.set(
        name,
        new UpstreamPool(name, urls, {
          openMs: config.UPSTREAM_COOLDOWN_MS,
          failureThreshold: config.BREAKER_FAILURE_THRESHOLD,
          now,
        }),
      );
  }

  const tokens = createTokenVerifier({
    keySet:
      keySet ??
      createRemoteKeySet({
        url: config.JWKS_URL,
        ...(config.jwksFromUsers ? { pool: pools.get('users')! } : {}),
        cooldownMs: config.JWKS_COOLDOWN_MS,
        maxAgeMs: config.JWKS_MAX_AGE_MS,
        log,
        now,
      }),
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    log,
    now,
  });
  // Only with a broker to hear announcements from (see revocations.ts).
  const revocations = config.MQTT_URL
    ? startRevocationWatch({
        mqtt: { MQTT_URL: config.MQTT_URL, MQTT_PASSWORD: config.MQTT_PASSWORD! },
        usersUrls: config.upstreams.users!,
        internalSecret: config.INTERNAL_SECRET,
        log,
      })
    : undefined;
  const payments = config.MQTT_URL
    ? createPaymentBridge({
        mqtt: { MQTT_URL: config.MQTT_URL, MQTT_PASSWORD: config.MQTT_PASSWORD! },
        log,
        metrics,
        waitMs: config.PAYMENT_WAIT_MS,
      })
    : undefined;
  const routes = compilePolicy();
  const cache = new MicroCache({
    ttlMs: config.CACHE_TTL_MS,
    maxEntries: config.CACHE_MAX_ENTRIES,
    maxBodyBytes: config.CACHE_MAX_BODY_BYTES,
    now,
  });
  const upstreamProxy = createUpstreamProxy({
    cache,
    log,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    internalSecret: config.INTERNAL_SECRET,
  });
  const docs = createApiDocs({ pools, log });
  const localHandlers = new Map<string, LocalHandler>([
    ['GET /api/health', createHealthHandler({ pools, agent: upstreamProxy.agent, isShuttingDown })],
    ['GET /api/openapi.json', docs.document],
    ['GET /api/docs', docs.page],
    ['GET /api/payments/keys.json', (req, res) => unavailableWithout(payments).keys(req, res)],
  ]);
  /** Routes the gateway answers itself for a signed-in caller. */
  const callerHandlers = new Map<string, CallerHandler>([
    [
      'POST /api/orders/:id/payments',
      (req, res, caller) => unavailableWithout(payments).pay(req, res, caller),
    ],
  ]);
  const bodyLimit = config.BODY_LIMIT_BYTES;

  /** Hands an admitted request to the gateway's own handler or to its service. */
  function dispatch(
    req: Request,
    res: Response,
    next: NextFunction,
    route: CompiledRoute,
    caller: Caller | undefined,
  ): void {
    if (route.owner === 'gateway') {
      const key = `${route.method} ${route.path}`;
      const forCaller = callerHandlers.get(key);
      if (forCaller) {
        // Only signed-in routes are here: the policy admitted a caller.
        forCaller(req, res, caller!).catch(next);
        return;
      }
      const handler = localHandlers.get(key);
      if (!handler) throw new AppError('service_unavailable');
      handler(req, res).catch(next);
      return;
    }
    const pool = pools.get(route.owner);
    if (!pool) throw new AppError('service_unavailable');
    const ip = clientAddress(req);
    const identity: Identity = caller
      ? { userId: caller.userId, roles: caller.roles, ip }
      : { roles: noRoles, ip };
    // Anonymous public reads may be answered from (and kept in) the micro-cache.
    const cacheKey =
      caller === undefined && route.access === 'public' ? cache.keyOf(req) : undefined;
    if (cacheKey !== undefined && cache.serve(cacheKey, req, res)) return;
    upstreamProxy.forward(req, res, next, pool, identity, cacheKey);
  }

  function admitCaller(
    req: Request,
    res: Response,
    next: NextFunction,
    route: CompiledRoute,
    caller: Caller,
  ): void {
    if (revocations) {
      // Nothing known yet is not "nothing revoked".
      if (!revocations.loaded()) throw new AppError('service_unavailable');
      if (revocations.isRevoked(caller.userId, caller.issuedAt)) throw tokenRevoked();
    }
    if (!isAllowed(route.access, caller.roles)) throw forbidden();
    limits.byUser(req, res, caller.userId, function withinUserLimit(error?: unknown) {
      if (error !== undefined) {
        next(error);
        return;
      }
      try {
        dispatch(req, res, next, route, caller);
      } catch (dispatchError) {
        next(dispatchError);
      }
    });
  }

  /**
   * Every `/api/` request: 404/405 from the policy table, 413 from Content-Length, then the token
   * (401) and roles (403), then the gateway's own handler or the service. Anonymous requests stay
   * synchronous; only a sent token costs a verification.
   */
  function admit(req: Request, res: Response, next: NextFunction): void {
    if (!req.url.startsWith('/api/')) {
      next();
      return;
    }
    const route = routes.match(req.method, req.path);
    if (route === undefined) {
      next();
      return;
    }
    if (isMethodNotAllowed(route)) {
      throw new AppError('method_not_allowed', { headers: { allow: route.allow } });
    }
    // The kit's metrics label a request by its route template; ours is the policy path.
    (req as { route?: unknown }).route = route.template;
    // Only a declared length can be refused up front; a chunked body streams on and the
    // service's own limit (the same BODY_LIMIT_BYTES by default) applies.
    const length = req.headers['content-length'];
    if (length !== undefined && Number(length) > bodyLimit) {
      throw new AppError('payload_too_large');
    }
    const authorization = req.headers.authorization;
    if (authorization === undefined) {
      if (route.access !== 'public') throw unauthorized();
      dispatch(req, res, next, route, undefined);
      return;
    }
    const known = tokens.recall(authorization);
    if (known !== undefined) {
      admitCaller(req, res, next, route, known);
      return;
    }
    tokens
      .verify(authorization)
      .then(function verified(caller) {
        admitCaller(req, res, next, route, caller);
      })
      .catch(next);
  }

  const corsHandler = corsPolicy(config.CORS_ORIGINS);
  const limitsRedis = config.RATE_LIMIT_REDIS_URL
    ? connectRateLimitRedis(config.RATE_LIMIT_REDIS_URL, log)
    : undefined;
  const limitStoreErrors = new Counter({
    name: 'rate_limit_store_errors_total',
    help: 'Requests let through because the shared rate-limit store did not answer',
    registers: [metrics.registry],
  });
  const limits = createRateLimits({
    windowMs: config.RATE_LIMIT_WINDOW_MS,
    perIp: config.RATE_LIMIT_PER_IP,
    perUser: config.RATE_LIMIT_PER_USER,
    store: limitsRedis
      ? (name) => new RedisRateLimitStore(limitsRedis, `mercado:rate-limit:${name}:`)
      : undefined,
    onStoreError: () => limitStoreErrors.inc(),
  });
  const app = buildHttpApp({
    name: 'gateway',
    log,
    metrics,
    bodyLimitBytes: bodyLimit,
    parseJson: false,
    isShuttingDown,
    routes(app) {
      app.set('trust proxy', config.TRUST_PROXY);
      app.use(securityHeaders());
      // The storefront's pages and assets (npm start): its own caching and CSP, no rate limit
      // (a page is a dozen files; the API calls it makes are limited as any other).
      if (config.SITE_DIR) app.use(serveStaticSite({ dir: config.SITE_DIR }));
      if (corsHandler) app.use(corsHandler);
      if (limits.byIp) app.use(limits.byIp);
      app.use('/api/docs/assets', docs.assets);
      app.use(admit);
    },
  });

  const live = config.BROKER_WS_URL
    ? createLiveBridge({ brokerWsUrl: config.BROKER_WS_URL, log })
    : undefined;

  return {
    app,
    upgrade(req, socket, head) {
      if (live) live.upgrade(req, socket, head);
      else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    },
    async ready(timeoutMs = 5_000) {
      const [limitsReady, revocationsReady] = await Promise.all([
        limitsRedis ? rateLimitRedisReady(limitsRedis, timeoutMs) : true,
        revocations ? revocations.ready(timeoutMs) : true,
      ]);
      return limitsReady && revocationsReady;
    },
    async close() {
      live?.close();
      upstreamProxy.close();
      await revocations?.close();
      await payments?.close();
      if (limitsRedis) await limitsRedis.quit().catch(() => limitsRedis.disconnect());
    },
  };
}
