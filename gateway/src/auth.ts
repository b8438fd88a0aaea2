import {
  createRemoteJWKSet,
  customFetch,
  jwtVerify,
  type FetchImplementation,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import { AppError } from '@mercado/common/errors';
import {
  accessTokenAlgorithms,
  isAccessTokenFault,
  joseErrorCode,
  roles as knownRoles,
  type Role,
} from '@mercado/common/identity';
import { type Logger } from '@mercado/common/log';
import { gatewayError } from './errors.js';
import type { UpstreamPool } from './upstreams.js';

/** Who a valid access token says the caller is. */
export interface Caller {
  userId: string;
  roles: Role[];
  /** The token's `iat`, in milliseconds (revocations refuse tokens issued at or before theirs). */
  issuedAt: number;
}

// RFC 6750 §3: the challenge on every 401, with the error code once a token was sent.
const challenge = { 'www-authenticate': 'Bearer realm="mercado"' };
const invalidTokenChallenge = {
  'www-authenticate': 'Bearer realm="mercado", error="invalid_token"',
};
const insufficientScopeChallenge = {
  'www-authenticate': 'Bearer realm="mercado", error="insufficient_scope"',
};

export function unauthorized(): AppError {
  return new AppError('unauthorized', { headers: challenge });
}

export function invalidToken(): AppError {
  return gatewayError('invalid_token', { headers: invalidTokenChallenge });
}

/** RFC 6750 §3.1: a revoked token is an invalid one; the code says which. */
export function tokenRevoked(): AppError {
  return gatewayError('token_revoked', { headers: invalidTokenChallenge });
}

export function forbidden(): AppError {
  return new AppError('forbidden', { headers: insufficientScopeChallenge });
}

// RFC 6750 §2.1: `Bearer` (any case), one or more spaces, a token68.
const bearerPattern = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export interface TokenVerifierOptions {
  keySet: JWTVerifyGetKey;
  issuer: string;
  audience: string;
  log: Logger;
  /** How many verified tokens to remember (0 turns the cache off). */
  cacheSize?: number;
  /** How long a verified token is remembered at most; never past its own expiry. */
  cacheTtlMs?: number;
  /** The clock remembered tokens expire by (epoch ms). */
  now?: () => number;
}

export interface TokenVerifier {
  /** The caller of an `Authorization` header verified recently, without any work; else undefined. */
  recall(authorization: string): Caller | undefined;
  /** Verifies an `Authorization` header (and remembers the result when valid). */
  verify(authorization: string): Promise<Caller>;
}

/**
 * Verifies an `Authorization: Bearer` access token locally: signature against the users service's
 * published keys, algorithm, issuer, audience and expiry. Rejects with `invalid_token` (401) for a
 * bad token and `service_unavailable` (503) when the keys cannot be loaded, which is not the
 * caller's fault. Neither the token nor its claims are ever logged.
 *
 * A valid token is remembered for a short while (by default 60 s, never past its `exp`): an
 * Ed25519 verification costs about as much CPU as proxying the request, and a client sends the
 * same token many times. The price is that a key withdrawn from the JWKS stops working for tokens
 * already seen up to that long after the gateway refreshed its keys.
 */
export function createTokenVerifier({
  keySet,
  issuer,
  audience,
  log,
  cacheSize = 10_000,
  cacheTtlMs = 60_000,
  now = Date.now,
}: TokenVerifierOptions): TokenVerifier {
  const options: JWTVerifyOptions = {
    // The kit's policy (EdDSA only), shared with the broker.
    algorithms: [...accessTokenAlgorithms],
    issuer,
    audience,
    requiredClaims: ['sub', 'exp', 'iat'],
    clockTolerance: 5,
  };
  const verified = new Map<string, { caller: Caller; until: number }>();

  function remember(authorization: string, caller: Caller, expiresAt: number): void {
    if (cacheSize === 0) return;
    if (verified.size >= cacheSize) {
      // Maps iterate in insertion order: the first key is the oldest entry.
      verified.delete(verified.keys().next().value!);
    }
    verified.set(authorization, { caller, until: Math.min(expiresAt, now() + cacheTtlMs) });
  }

  return {
    recall(authorization) {
      const entry = verified.get(authorization);
      if (entry === undefined) return undefined;
      if (entry.until > now()) return entry.caller;
      verified.delete(authorization);
      return undefined;
    },

    async verify(authorization) {
      const token = bearerPattern.exec(authorization)?.[1];
      if (token === undefined) throw invalidToken();
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, keySet, options));
      } catch (error) {
        if (isAccessTokenFault(error)) throw invalidToken();
        log.warn(
          { code: joseErrorCode(error) ?? 'unknown', reason: messageOf(error) },
          'token keys unavailable',
        );
        throw new AppError('service_unavailable');
      }
      const { sub, roles, exp, iat } = payload;
      if (typeof sub !== 'string' || sub.length === 0 || sub.length > 200) throw invalidToken();
      if (roles !== undefined && !Array.isArray(roles)) throw invalidToken();
      const caller: Caller = {
        userId: sub,
        roles: (roles ?? []).filter(isRole),
        // iat may be fractional (the users service keeps milliseconds).
        issuedAt: Math.round((iat as number) * 1_000),
      };
      remember(authorization, caller, (exp as number) * 1000);
      return caller;
    },
  };
}

function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (knownRoles as readonly string[]).includes(value);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export interface RemoteKeySetOptions {
  url: string;
  /** When set, the JWKS is fetched from whichever URL of this pool is up, not only the first. */
  pool?: UpstreamPool;
  cooldownMs: number;
  maxAgeMs: number;
  log: Logger;
  /** How long one JWKS fetch may take. */
  timeoutMs?: number;
  /** The clock the keys' age is read by (epoch ms). */
  now?: () => number;
}

/**
 * The users service's JWKS, fetched on first use and cached. A token whose `kid` is unknown makes
 * jose refetch (at most once per cooldown), which is how a new signing key is picked up without
 * logging anyone out. Keys older than `maxAgeMs` are refreshed in the background while the cached
 * ones keep serving, so a users service outage does not stop the gateway from verifying tokens
 * signed with keys it already holds; a key withdrawn from the JWKS stops verifying after a refresh.
 */
export function createRemoteKeySet({
  url,
  pool,
  cooldownMs,
  maxAgeMs,
  log,
  timeoutMs = 2_000,
  now = Date.now,
}: RemoteKeySetOptions): JWTVerifyGetKey {
  const jwksUrl = new URL(url);
  // Any users URL serves the same keys: take them in turn, moving on when one cannot be reached.
  const fetchFromPool: FetchImplementation | undefined = pool
    ? async function fetchJwksFromUsers(resource, init) {
        let failure: unknown;
        for (let tried = 0; tried < pool.upstreams.length && !init.signal.aborted; tried++) {
          const target = new URL(resource);
          const origin = new URL(pool.upstreams[tried]!.origin);
          target.protocol = origin.protocol;
          target.host = origin.host;
          try {
            return await fetch(target, init);
          } catch (error) {
            failure = error;
          }
        }
        throw failure ?? init.signal.reason;
      }
    : undefined;
  const remote = createRemoteJWKSet(jwksUrl, {
    cooldownDuration: cooldownMs,
    // Expiry is handled below as a background refresh, so stale keys never block a request.
    cacheMaxAge: Infinity,
    timeoutDuration: timeoutMs,
    ...(fetchFromPool ? { [customFetch]: fetchFromPool } : {}),
  });
  let refreshDueAt = now() + maxAgeMs;

  function refreshInBackground(at: number): void {
    refreshDueAt = at + maxAgeMs;
    remote.reload().then(
      function refreshed() {
        log.debug({ keys: remote.jwks()?.keys.length ?? 0 }, 'JWKS refreshed');
      },
      function refreshFailed(error: unknown) {
        // Try again after the cooldown rather than a whole max age later.
        refreshDueAt = now() + cooldownMs;
        log.warn({ code: joseErrorCode(error), reason: messageOf(error) }, 'JWKS refresh failed');
      },
    );
  }

  return function keyFromJwks(header, token) {
    const at = now();
    if (at >= refreshDueAt && remote.jwks() !== undefined && !remote.reloading) {
      refreshInBackground(at);
    }
    return remote(header, token);
  };
}
