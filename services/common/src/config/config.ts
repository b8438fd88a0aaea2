import { z } from 'zod';

/**
 * Thrown when the environment does not hold a valid configuration. The message is one line that
 * names every bad setting, so an operator sees all of them at once.
 */
export class ConfigError extends Error {
  readonly settings: string[];
  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.settings = problems;
  }
}

type Env = Record<string, string | undefined>;

/** Settings that are optional alone but required once another one is set (setting.requiredWith). */
const requiredWithRegistry = z.registry<{ requiredWith: string }, z.core.$ZodType>();

/**
 * Reads a configuration from the environment once, validates it and freezes it. Every key of
 * `shape` is an environment variable name. An empty string counts as unset, so `FOO=` cannot
 * stand in for a secret.
 */
export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  env: Env = process.env,
): Readonly<z.infer<z.ZodObject<S>>> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = z.object(shape).safeParse(input);
  const problems = result.success
    ? []
    : result.error.issues.map(function describeIssue(issue) {
        const key = issue.path.join('.');
        return input[String(issue.path[0])] === undefined
          ? `${key} is required`
          : `${key} ${issue.message.replace(/^Invalid input: /, '')}`;
      });
  for (const [key, schema] of Object.entries(shape)) {
    const other = requiredWithRegistry.get(schema)?.requiredWith;
    if (other !== undefined && input[other] !== undefined && input[key] === undefined) {
      problems.push(`${key} is required when ${other} is set`);
    }
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(result.data);
}

/**
 * A region name as inventory's stock and orders' carts spell it (sql/'s checks and the contract's
 * low-stock payload say the same): short, lower case, URL-safe.
 */
export const regionPattern = /^[a-z][a-z0-9-]{0,31}$/;

/** Field builders for configuration shapes: each parses the string an environment variable holds. */
export const setting = {
  port: (fallback?: number) => {
    const schema = z.coerce.number().int().min(0).max(65535);
    return fallback === undefined ? schema : schema.default(fallback);
  },
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(fallback),
  string: (fallback: string) => z.string().default(fallback),
  /** A secret: required, never defaulted, at least `minLength` characters. */
  secret: (minLength = 32) =>
    z.string().min(minLength, { message: `must be at least ${minLength} characters` }),
  url: () => z.url({ protocol: /^(https?|postgres(ql)?|mqtts?|wss?|rediss?)$/ }),
  /**
   * Optional, but required whenever the setting `other` is set (a password that goes with a URL);
   * loadConfig names it among the other problems.
   */
  requiredWith: <T extends z.ZodType>(other: string, schema: T): z.ZodOptional<T> => {
    const optional = schema.optional();
    requiredWithRegistry.add(optional, { requiredWith: other });
    return optional;
  },
  /**
   * A comma-separated list of SHA-256 digests (64 hex digits each, as `sha256sum` prints them),
   * lower-cased: what a verifier keeps of secrets it must recognise, more than one during a
   * rotation.
   */
  sha256Digests: () =>
    z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((part) => part.trim().toLowerCase())
          .filter(Boolean),
      )
      .pipe(
        z
          .array(z.string().regex(/^[0-9a-f]{64}$/, 'must be SHA-256 digests (64 hex digits)'))
          .min(1),
      ),
  /** A broker URL: MQTT over TCP or TLS, or over a WebSocket. */
  mqttUrl: () => z.url({ protocol: /^(mqtts?|wss?)$/ }),
  /** A comma-separated list of URLs. */
  urls: () =>
    z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.url({ protocol: /^https?$/ })).min(1)),
  list: (fallback: string[] = []) =>
    z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean),
      )
      .default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .transform((value) => value === 'true' || value === '1' || value === 'yes')
      .default(fallback),
  /**
   * The regions a shop keeps stock in and ships from, comma-separated: at least one, none twice,
   * each spelt as `regionPattern` says.
   */
  regions: (fallback: string[]) =>
    setting.list(fallback).pipe(
      z
        .array(z.string().regex(regionPattern, 'must be lower-case letters, digits and dashes'))
        .min(1)
        .refine((regions) => new Set(regions).size === regions.length, 'must not repeat a region'),
    ),
  /** One of the given words. */
  oneOf: <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
    z.enum(values).default(fallback as never),
  logLevel: () =>
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/** Settings every HTTP service shares. */
export const baseServiceSettings = {
  HOST: setting.string('127.0.0.1'),
  PORT: setting.port(0),
  LOG_LEVEL: setting.logLevel(),
  BODY_LIMIT_BYTES: setting.int(100 * 1024, 1024, 50 * 1024 * 1024),
  SHUTDOWN_TIMEOUT_MS: setting.int(10_000, 100, 120_000),
};

/** Settings of a service that owns a database (see db/db.ts, createDb). */
export const databaseSettings = {
  DATABASE_URL: setting.url(),
  DATABASE_POOL_MAX: setting.int(10, 1, 200),
  MIGRATE_ON_START: setting.bool(true),
  /** Postgres cancels a statement that runs longer (answered 503 `database_timeout`); 0: off. */
  DATABASE_STATEMENT_TIMEOUT_MS: setting.int(30_000, 0, 3_600_000),
  /**
   * Postgres ends the session of a transaction idle for longer, releasing its locks (the outbox
   * relay and the checkout keep a transaction open while they publish); 0: off.
   */
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: setting.int(60_000, 0, 3_600_000),
};

/**
 * Settings of a service that connects to the broker (see mqtt/service-client.ts): without
 * MQTT_URL it runs without MQTT; with it, MQTT_PASSWORD is required. The password is this
 * service's own: the broker keeps only its SHA-256 (MQTT_PASSWORD_HASHES_{SERVICE}), and no other
 * service holds or can derive it.
 */
export const mqttSettings = {
  MQTT_URL: setting.mqttUrl().optional(),
  MQTT_PASSWORD: setting.requiredWith('MQTT_URL', setting.secret(32)),
};

/**
 * Settings of a service that keeps rendered answers until its data changes (see the http
 * module's startAnswerCache): how many, and how many bytes at most; 0 entries turns it off.
 */
export function answerCacheSettings(entries: number, maxBytes: number) {
  return {
    ANSWER_CACHE_ENTRIES: setting.int(entries, 0, 1_000_000),
    ANSWER_CACHE_MAX_BYTES: setting.int(maxBytes, 0),
  };
}

/** Settings of a service that relays its outbox to the broker (see mqtt/outbox-relay.ts). */
export const outboxRelaySettings = {
  /** Rows claimed and published per transaction. */
  OUTBOX_BATCH_SIZE: setting.int(100, 1, 10_000),
  /** How often each replica looks for unsent rows when no notification woke it. */
  OUTBOX_POLL_INTERVAL_MS: setting.int(5_000, 50, 3_600_000),
  /** How long a publish may wait for the broker's PUBACK before the batch is retried. */
  OUTBOX_PUBLISH_TIMEOUT_MS: setting.int(5_000, 100, 120_000),
};
