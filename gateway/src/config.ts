import { existsSync } from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import { baseServiceSettings, loadConfig, mqttSettings, setting } from '@mercado/common/config';
import type { ServiceName } from './policy.js';

/**
 * A comma list of service URLs. They are plain http origins: TLS ends at the load balancer, and
 * since services mount the full `/api/...` paths a URL carries no path of its own.
 */
function upstreamUrls() {
  return setting
    .urls()
    .refine(
      (urls) =>
        urls.every((url) => {
          if (!URL.canParse(url) || !/^https?:/.test(url)) return true; // already reported
          const parsed = new URL(url);
          return parsed.protocol === 'http:' && parsed.pathname === '/' && !parsed.search;
        }),
      { message: 'must be http:// origins without a path' },
    )
    .transform((urls) => urls.map((url) => new URL(url).origin));
}

const trustPresets = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isTrustEntry(entry: string): boolean {
  if (trustPresets.has(entry)) return true;
  const [address, bits, ...rest] = entry.split('/');
  if (rest.length > 0 || !address) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  // proxy-addr accepts a prefix length or a netmask in dotted form.
  if (/^\d{1,3}$/.test(bits)) return Number(bits) <= (family === 4 ? 32 : 128);
  return family === 4 && isIP(bits) === 4;
}

/**
 * Express's `trust proxy`: a hop count, true/false, or a comma list of addresses, subnets and the
 * names loopback, linklocal, uniquelocal. It decides which X-Forwarded-For entries count, and so
 * the client address the gateway signs into the identity.
 */
const trustProxy = z
  .string()
  .default('loopback')
  .transform((value) => value.trim())
  .refine(
    (value) =>
      /^\d+$/.test(value) ||
      value === 'true' ||
      value === 'false' ||
      value
        .split(',')
        .map((part) => part.trim())
        .every(isTrustEntry),
    {
      message:
        'must be a hop count, true, false, or addresses, subnets, loopback/linklocal/uniquelocal',
    },
  )
  .transform((value): number | boolean | string =>
    /^\d+$/.test(value)
      ? Number(value)
      : value === 'true'
        ? true
        : value === 'false'
          ? false
          : value,
  );

/** Browser origins allowed to call the API; each is `scheme://host[:port]`. */
const corsOrigins = setting.list([]).refine(
  (origins) =>
    origins.every((origin) => {
      try {
        return new URL(origin).origin === origin;
      } catch {
        return false;
      }
    }),
  { message: 'must be origins like https://shop.example (scheme, host, optional port; no path)' },
);

export const gatewaySettings = {
  ...baseServiceSettings,
  PORT: setting.port(8080),
  INTERNAL_SECRET: setting.secret(),
  USERS_URLS: upstreamUrls(),
  PRODUCTS_URLS: upstreamUrls().optional(),
  INVENTORY_URLS: upstreamUrls().optional(),
  ORDERS_URLS: upstreamUrls().optional(),
  JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  JWT_ISSUER: setting.string('mercado'),
  JWT_AUDIENCE: setting.string('mercado-api'),
  /** A token with an unknown key id refetches the key set at most this often. */
  JWKS_COOLDOWN_MS: setting.int(30_000, 0, 3_600_000),
  /** Keys older than this are refreshed in the background; the old ones serve meanwhile. */
  JWKS_MAX_AGE_MS: setting.int(600_000, 1_000, 86_400_000),
  UPSTREAM_TIMEOUT_MS: setting.int(10_000, 1, 600_000),
  /** How long an upstream URL's open circuit breaker stays open before a trial request. */
  UPSTREAM_COOLDOWN_MS: setting.int(5_000, 0, 600_000),
  /** Timeouts or 502/503/504 answers in a row that open a URL's breaker (a refusal opens it at once). */
  BREAKER_FAILURE_THRESHOLD: setting.int(5, 1, 1000),
  /** Rate limits: requests per window per client address and per signed-in user (0 = off). */
  RATE_LIMIT_WINDOW_MS: setting.int(60_000, 1_000, 3_600_000),
  RATE_LIMIT_PER_IP: setting.int(1_200, 0, 10_000_000),
  RATE_LIMIT_PER_USER: setting.int(600, 0, 10_000_000),
  /** A Redis shared by every gateway replica, so they count limits together (else each its own). */
  RATE_LIMIT_REDIS_URL: setting.url().optional(),
  /** Micro-cache for anonymous public reads: the longest a response is reused (0 = off). */
  CACHE_TTL_MS: setting.int(1_000, 0, 60_000),
  CACHE_MAX_ENTRIES: setting.int(1_000, 1, 1_000_000),
  CACHE_MAX_BODY_BYTES: setting.int(256 * 1024, 1_024, 10 * 1024 * 1024),
  CORS_ORIGINS: corsOrigins,
  /**
   * The broker, where the users service announces revoked accounts (with it, a disabled or
   * demoted account's tokens are refused within a second, see revocations.ts) and through which
   * orders are paid (payments.ts). Unset: tokens work until they expire and paying answers 503.
   * MQTT_PASSWORD is the gateway's own broker password (service `gateway`).
   */
  ...mqttSettings,
  /** How long a payment request waits for its result before answering 202 (where to look). */
  PAYMENT_WAIT_MS: setting.int(3_000, 1, 60_000),
  TRUST_PROXY: trustProxy,
  /**
   * The storefront's built site (`frontend/dist/site`), served at `/` beside the API: `npm start`'s
   * one URL. Unset in Compose, where the frontend replicas serve it behind the load balancer.
   */
  /**
   * The broker's MQTT-over-WebSocket listener (`ws://broker:8883/mqtt`): with it, WebSocket
   * upgrades at `/mqtt` are passed through to it, so browsers follow their orders live at the
   * shop's own origin (`npm start`). Unset behind nginx, which routes `/mqtt` itself.
   */
  BROKER_WS_URL: z.url({ protocol: /^wss?$/ }).optional(),
  SITE_DIR: z
    .string()
    .min(1)
    .refine((dir) => existsSync(path.join(dir, 'index.html')), {
      message: 'must be a built site, with its index.html (node frontend/build.mjs builds it)',
    })
    .optional(),
};

type RawGatewayConfig = z.infer<z.ZodObject<typeof gatewaySettings>>;

export interface GatewayConfig extends Readonly<Omit<RawGatewayConfig, 'JWKS_URL'>> {
  /** JWKS_URL, or the first users URL's `/api/auth/jwks.json`. */
  readonly JWKS_URL: string;
  /** Whether JWKS_URL was derived from USERS_URLS (then any users URL may serve it). */
  readonly jwksFromUsers: boolean;
  /** Each service's URLs; a service without any is absent. */
  readonly upstreams: Readonly<Partial<Record<ServiceName, readonly string[]>>>;
}

export const jwksPath = '/api/auth/jwks.json';

/** Reads, validates and freezes the gateway's configuration; throws ConfigError listing every bad key. */
export function loadGatewayConfig(
  env: Record<string, string | undefined> = process.env,
): GatewayConfig {
  const raw = loadConfig(gatewaySettings, env);
  const upstreams: Partial<Record<ServiceName, readonly string[]>> = {
    users: raw.USERS_URLS,
    ...(raw.PRODUCTS_URLS ? { products: raw.PRODUCTS_URLS } : {}),
    ...(raw.INVENTORY_URLS ? { inventory: raw.INVENTORY_URLS } : {}),
    ...(raw.ORDERS_URLS ? { orders: raw.ORDERS_URLS } : {}),
  };
  return Object.freeze({
    ...raw,
    JWKS_URL: raw.JWKS_URL ?? `${raw.USERS_URLS[0]}${jwksPath}`,
    jwksFromUsers: raw.JWKS_URL === undefined,
    upstreams: Object.freeze(upstreams),
  });
}
