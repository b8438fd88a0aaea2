import type { Express } from 'express';
import { buildServiceApp, createCursorCodec, type ApiRouter } from '@mercado/common/http';
import { type Knex } from '@mercado/common/db';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import { usersErrors } from './errors.js';
import { authRoutes, usersRoutes } from './api/routes.js';
import { internalTerminalsRoutes, terminalsRoutes } from './api/terminals-routes.js';
import { internalRevocationsRoutes } from './api/revocations-routes.js';
import type { UsersDeps } from './domain/deps.js';
import { presenceUnknown, type TerminalPresence } from './domain/terminal-view.js';
import { loadSigningKeys, type SigningKeys } from './keys.js';
import { createPasswordHasher, type PasswordHasher } from './passwords.js';
import type { UsersConfig } from './config.js';

export { loadUsersConfig, usersSettings, type UsersConfig } from './config.js';
export { loadSigningKeys, type SigningKeys } from './keys.js';
export { createPasswordHasher, type PasswordHasher } from './passwords.js';
export { ensureAdmin } from './domain/accounts.js';
export type { UsersDeps } from './domain/deps.js';
export type { Presence, TerminalPresence } from './domain/terminal-view.js';
export { usersOutbox } from './data/outbox.js';
export {
  startTerminalPresence,
  type TerminalPresenceOptions,
  type TerminalPresenceTracker,
} from './consumers/terminal-status.js';
export {
  consumeTerminalTransactions,
  usersShareGroup,
  type TerminalTransactionsOptions,
} from './consumers/terminal-transactions.js';
export { timeZoneKnown } from './data/terminal-transactions-repository.js';

export const usersMigrationsDir = new URL('../../../sql/users', import.meta.url);

export interface UsersAppDeps {
  config: UsersConfig;
  log: Logger;
  metrics: Metrics;
  db: Knex;
  keys: SigningKeys;
  hasher: PasswordHasher;
  /** Terminals' presence (startTerminalPresence when MQTT_URL is set); unknown without it. */
  presence?: TerminalPresence;
  /** The clock of the terminals' `today` (the real one unless a test hands in its own). */
  now?: () => Date;
  isShuttingDown?: () => boolean;
}

export function usersDeps({
  config,
  log,
  db,
  keys,
  hasher,
  presence = presenceUnknown,
  now = () => new Date(),
}: UsersAppDeps): UsersDeps {
  return {
    db,
    log,
    keys,
    hasher,
    cursors: createCursorCodec(config.INTERNAL_SECRET, 'users/list'),
    terminalCursors: createCursorCodec(config.INTERNAL_SECRET, 'terminals/list'),
    presence,
    terminalsTimeZone: config.TERMINALS_TIME_ZONE,
    now,
    accessTokenTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
    throttle: {
      account: {
        maxFailures: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
        windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
        lockoutSeconds: config.LOGIN_LOCKOUT_SECONDS,
      },
      ip: {
        maxFailures: config.LOGIN_MAX_FAILURES_PER_IP,
        windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
        lockoutSeconds: config.LOGIN_LOCKOUT_SECONDS,
      },
    },
  };
}

/** The key set and password hasher the configuration describes (main and tests build them alike). */
export async function usersCredentials(
  config: UsersConfig,
): Promise<{ keys: SigningKeys; hasher: PasswordHasher }> {
  const keys = await loadSigningKeys({
    keysJson: config.JWT_SIGNING_KEYS,
    activeKid: config.JWT_ACTIVE_KID,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
    ttlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  });
  const hasher = createPasswordHasher({
    memoryKib: config.PASSWORD_HASH_MEMORY_KIB,
    iterations: config.PASSWORD_HASH_ITERATIONS,
  });
  return { keys, hasher };
}

/** Every operation of the users service, by router (their specs are what the app enforces). */
export function usersApis(domain: UsersDeps): ApiRouter[] {
  return [
    authRoutes(domain),
    usersRoutes(domain),
    terminalsRoutes(domain),
    internalTerminalsRoutes(domain),
    internalRevocationsRoutes(domain),
  ];
}

/** Builds the users service's HTTP app (it does not listen). */
export function buildUsersApp(deps: UsersAppDeps): Express {
  return buildServiceApp({
    ...deps,
    name: 'users',
    title: 'Mercado users',
    apis: usersApis(usersDeps(deps)),
    errors: usersErrors,
  });
}
