import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { type Identity } from '@mercado/common/identity';
import { type Knex } from '@mercado/common/db';
import type { MqttClient } from '@mercado/common/mqtt';
import {
  callService,
  type captureLogs,
  startTestService,
  testMqttPassword,
  unknownIdCases,
  type HostileInputSweep,
} from '@mercado/common/testing';
import type { DocumentedOperation } from '@mercado/common/http';
import {
  buildUsersApp,
  loadUsersConfig,
  usersApis,
  usersDeps,
  usersOutbox,
  startTerminalPresence,
  consumeTerminalTransactions,
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
  /** Its MQTT client, with MQTT_URL (its options.clientId is what the broker knows it by). */
  mqtt: MqttClient | undefined;
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

export interface UsersOptions {
  /** The clock of the terminals' `today` (the real one by default). */
  now?: () => Date;
}

/** A users service on a fresh database and a free port, with cheap password hashing for speed. */
export async function startUsers(
  t: TestContext,
  env: Record<string, string> = {},
  signingKeys?: Array<Record<string, unknown>>,
  options: UsersOptions = {},
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
      MQTT_PASSWORD: testMqttPassword('users'),
      ...env,
    },
    migrationsDir: usersMigrationsDir,
    async build(runtime) {
      const credentials = await usersCredentials(runtime.config);
      const presence = runtime.mqtt
        ? startTerminalPresence({ mqtt: runtime.mqtt, log: runtime.log })
        : undefined;
      if (presence) t.teardown(() => presence.close());
      // As main runs it: revocations announced through the outbox when there is a broker.
      const relay = usersOutbox.startRelay(runtime);
      if (relay) t.teardown(() => relay.stop());
      // And payments' terminal transactions consumed.
      const transactions = runtime.mqtt
        ? consumeTerminalTransactions({ db: runtime.db, mqtt: runtime.mqtt, log: runtime.log })
        : undefined;
      if (transactions) t.teardown(() => transactions.stop());
      const deps = {
        ...runtime,
        ...credentials,
        ...(presence ? { presence } : {}),
        ...(options.now ? { now: options.now } : {}),
      };
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

/** The hostile-input sweep of the users service, with data to refuse changes to. */
export async function prepareUsersSweep(users: UsersHarness): Promise<HostileInputSweep> {
  const admin = await signUpAdmin(users);
  const till = await users.call('POST', '/api/terminals', {
    identity: admin,
    body: { id: 'till-1', name: 'Till' },
  });
  if (till.status !== 201) throw new Error(`registering a terminal gave ${till.status}`);
  const unknownIds = unknownIdCases([
    ['PATCH', `/api/users/${randomUUID()}`, admin, { name: 'X' }, 404, 'not_found'],
    ['POST', '/api/terminals/till-404/secret', admin, undefined, 404, 'terminal_not_found'],
    ['DELETE', '/api/terminals/till-404', admin, undefined, 404, 'terminal_not_found'],
  ]);
  return {
    tables: ['users', 'refresh_tokens', 'login_throttle', 'terminals', 'terminal_transactions'],
    examples: {
      'POST /api/auth/register': {
        body: {
          email: 'new@mercado.test',
          password: strongPassword,
          name: 'New',
          roles: ['seller'],
        },
      },
      'POST /api/auth/login': { body: { email: 'admin@mercado.test', password: strongPassword } },
      'POST /api/auth/refresh': { body: { refreshToken: 'rt-example' } },
      'POST /api/auth/logout': { body: { refreshToken: 'rt-example' } },
      'GET /api/auth/jwks.json': {},
      'GET /api/users/me': {},
      'PATCH /api/users/me': {
        body: {
          name: 'Renamed',
          currentPassword: strongPassword,
          newPassword: `${strongPassword}!`,
        },
      },
      'GET /api/users': {
        query: { q: 'ana', role: 'seller', disabled: 'false', limit: '10', cursor: 'c' },
      },
      'PATCH /api/users/{id}': {
        params: { id: admin.userId },
        body: { roles: ['seller'], disabled: true, name: 'Renamed' },
      },
      'POST /api/terminals': { body: { name: 'Till', id: 'till-9', location: 'Madrid' } },
      'GET /api/terminals': { query: { limit: '10', cursor: 'c' } },
      'POST /api/terminals/{id}/secret': { params: { id: 'till-1' } },
      'DELETE /api/terminals/{id}': { params: { id: 'till-1' } },
      'POST /internal/terminals/verify': { body: { terminalId: 'till-1', secret: 'secret' } },
      'GET /internal/revocations': {},
    },
    unknownIds,
    rawPaths: ['/api/auth/login', '/api/users/me', '/internal/terminals/verify'],
  };
}
