import { z } from 'zod';
import {
  ConfigError,
  baseServiceSettings,
  databaseSettings,
  loadConfig,
  mqttSettings,
  outboxRelaySettings,
  setting,
} from '@mercado/common/config';

/**
 * An IANA time zone name (`Europe/Madrid`, `UTC`), as both Node's Intl and Postgres know them.
 * Offsets (`+01:00`) and POSIX rules (`CET-1`) are refused: Postgres reads the sign of a POSIX
 * offset the other way round from ISO 8601, so one of them would be an hour or more wrong.
 */
function timeZone(fallback: string) {
  return z
    .string()
    .refine(isIanaTimeZone, 'must be an IANA time zone name (such as Europe/Madrid or UTC)')
    .default(fallback);
}

function isIanaTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const usersSettings = {
  ...baseServiceSettings,
  ...databaseSettings,
  INTERNAL_SECRET: setting.secret(32),
  /** JSON array of private Ed25519 JWKs, each with a `kid`. */
  JWT_SIGNING_KEYS: z.string(),
  /** The kid that signs new tokens; the first key when unset. */
  JWT_ACTIVE_KID: z.string().optional(),
  JWT_ISSUER: setting.string('mercado'),
  JWT_AUDIENCE: setting.string('mercado-api'),
  ACCESS_TOKEN_TTL_SECONDS: setting.int(900, 30, 24 * 3600),
  REFRESH_TOKEN_TTL_SECONDS: setting.int(30 * 24 * 3600, 300, 365 * 24 * 3600),
  ADMIN_EMAIL: z.email().optional(),
  ADMIN_PASSWORD: z.string().optional(),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: setting.int(5, 1, 1000),
  LOGIN_MAX_FAILURES_PER_IP: setting.int(50, 1, 100_000),
  LOGIN_FAILURE_WINDOW_SECONDS: setting.int(900, 1, 86_400),
  LOGIN_LOCKOUT_SECONDS: setting.int(900, 1, 86_400),
  /** argon2id memory cost; OWASP's minimum recommendation is 19 MiB with t=2. */
  PASSWORD_HASH_MEMORY_KIB: setting.int(19_456, 1024, 1_048_576),
  PASSWORD_HASH_ITERATIONS: setting.int(2, 1, 10),
  /** The broker, for terminals' presence (unknown without it), and the service's password. */
  ...mqttSettings,
  /** The outbox relay (revocations on users/revocations). */
  ...outboxRelaySettings,
  /** The calendar day of the terminals' `today` totals: an IANA time zone such as Europe/Madrid. */
  TERMINALS_TIME_ZONE: timeZone('UTC'),
};

export type UsersConfig = ReturnType<typeof loadUsersConfig>;

export function loadUsersConfig(env: Record<string, string | undefined> = process.env) {
  const config = loadConfig(usersSettings, env);
  if ((config.ADMIN_EMAIL === undefined) !== (config.ADMIN_PASSWORD === undefined)) {
    throw new ConfigError(['ADMIN_EMAIL and ADMIN_PASSWORD must be set together']);
  }
  return config;
}
