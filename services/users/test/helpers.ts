import { exportJWK, generateKeyPair } from 'jose';
import { type Identity } from '@mercado/common/identity';
import { type Knex } from '@mercado/common/db';
import { callService, type captureLogs, startTestService } from '@mercado/common/testing';
import type { DocumentedOperation } from '@mercado/common/http';
import {
  buildUsersApp,
  loadUsersConfig,
  usersApis,
  usersDeps,
  startTerminalPresence,
  usersCredentials,
  usersMigrationsDir,
  type SigningKeys,
  type UsersConfig,
} from '../src/app.js';

export const internalSecret = 'test-internal-secret-that-is-long-enough-0123456789';

interface TestContext {
  teardown(fn: () => unknown): void;
}

export async function newSigningKey(kid: string): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'EdDSA' };
}

export interface UsersHarness {
  url: string;
  db: Knex;
  keys: SigningKeys;
  config: UsersConfig;
  logs: ReturnType<typeof captureLogs>;
  /** Every operation the service answers, as its routers declare them. */
  operations: DocumentedOperation[];
  /** Calls the service as the gateway would, with a signed identity. */
  call(
    method: string,
    path: string,
    options?: {
      body?: unknown;
      rawBody?: string;
      identity?: Identity;
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; headers: Headers; body: any }>;
}

/** A users service on a fresh database and a free port, with cheap password hashing for speed. */
export async function startUsers(
  t: TestContext,
  env: Record<string, string> = {},
  signingKeys?: Array<Record<string, unknown>>,
): Promise<UsersHarness> {
  const keys = signingKeys ?? [await newSigningKey('key-1')];
  const service = await startTestService(t, {
    name: 'users',
    loadConfig: loadUsersConfig,
    env: {
      INTERNAL_SECRET: internalSecret,
      JWT_SIGNING_KEYS: JSON.stringify(keys),
      PASSWORD_HASH_MEMORY_KIB: '1024',
      PASSWORD_HASH_ITERATIONS: '1',
      ...env,
    },
    migrationsDir: usersMigrationsDir,
    async build(runtime) {
      const credentials = await usersCredentials(runtime.config);
      const { MQTT_URL, INTERNAL_SECRET } = runtime.config;
      const presence = MQTT_URL
        ? startTerminalPresence({
            url: MQTT_URL,
            internalSecret: INTERNAL_SECRET,
            log: runtime.log,
          })
        : undefined;
      if (presence) t.teardown(() => presence.close());
      const deps = { ...runtime, ...credentials, ...(presence ? { presence } : {}) };
      return {
        app: buildUsersApp(deps),
        extra: {
          keys: credentials.keys,
          operations: usersApis(usersDeps(deps)).flatMap((api) => api.operations),
        },
      };
    },
  });
  return {
    ...service,
    call: (method, path, options = {}) =>
      callService(service.url, internalSecret, method, path, {
        ...options,
        identity: options.identity ?? { roles: [], ip: '203.0.113.7' },
      }),
  };
}

export const strongPassword = 'correct horse battery staple';

/**
 * An admin the way the first one comes to be: an account, then the role. Returns the identity the
 * gateway would sign for them.
 */
export async function signUpAdmin(
  users: UsersHarness,
  email = 'admin@mercado.test',
): Promise<{ userId: string; roles: ['admin']; ip: string }> {
  const response = await users.call('POST', '/api/auth/register', {
    body: { email, password: strongPassword, name: 'Admin' },
  });
  const userId = (response.body as { user: { id: string } }).user.id;
  await users
    .db('users')
    .where({ id: userId })
    .update({ roles: ['admin'] });
  return { userId, roles: ['admin'], ip: '203.0.113.20' };
}
