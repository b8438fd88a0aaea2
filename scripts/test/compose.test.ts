import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { hashServiceMqttPassword } from '@mercado/common/mqtt';
import { repoRoot } from '../src/local-state.js';

const installLine = 'apt-get install -y --no-install-recommends docker-compose';
const composeFile = path.join(repoRoot, 'docker-compose.yml');
const required = {
  USERS_DB_PASSWORD: 'dummy-db-password',
  PRODUCTS_DB_PASSWORD: 'dummy-products-db-password',
  INVENTORY_DB_PASSWORD: 'dummy-inventory-db-password',
  ORDERS_DB_PASSWORD: 'dummy-orders-db-password',
  PAYMENTS_DB_PASSWORD: 'dummy-payments-db-password',
  PAYMENTS_CARD_KEYS: '[{"kty":"OKP","crv":"X25519","kid":"card-1","x":"x","d":"d"}]',
  CARD_FINGERPRINT_KEY: 'dummy-card-fingerprint-key-0123456789abcdef',
  REDIS_PASSWORD: 'dummy-redis-password',
  INTERNAL_SECRET: 'x'.repeat(48),
  JWT_SIGNING_KEYS: '[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"x","d":"d"}]',
  ADMIN_EMAIL: 'admin@example.test',
  ADMIN_PASSWORD: 'dummy-admin-password',
  USERS_MQTT_PASSWORD: 'dummy-users-mqtt-password-0123456789',
  USERS_MQTT_PASSWORD_HASH: 'a'.repeat(64),
  INVENTORY_MQTT_PASSWORD: 'dummy-inventory-mqtt-password-0123456789',
  INVENTORY_MQTT_PASSWORD_HASH: 'b'.repeat(64),
  GATEWAY_MQTT_PASSWORD: 'dummy-gateway-mqtt-password-0123456789',
  GATEWAY_MQTT_PASSWORD_HASH: 'c'.repeat(64),
  ORDERS_MQTT_PASSWORD: 'dummy-orders-mqtt-password-0123456789',
  ORDERS_MQTT_PASSWORD_HASH: 'e'.repeat(64),
  PAYMENTS_MQTT_PASSWORD: 'dummy-payments-mqtt-password-0123456789',
  PAYMENTS_MQTT_PASSWORD_HASH: 'd'.repeat(64),
};

if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).error) {
  // The test runner installs it (scripts/src/system-packages.ts); run alone, say exactly how.
  throw new Error(`docker-compose is not installed: ${installLine}`);
}

/**
 * `docker-compose config` (Compose v1.29, which needs no Docker engine) with exactly the given
 * variables and an env file: never the developer's own `.env` or environment.
 */
async function config(
  t: { teardown(fn: () => unknown): void },
  vars: Record<string, string>,
  envFile = '',
) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-compose-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, '.env');
  await writeFile(file, envFile);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...vars };
  const args = ['--env-file', file, '-f', composeFile, 'config'];
  try {
    const { stdout } = await promisify(execFile)('docker-compose', args, { env, cwd: repoRoot });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/**
 * The run with every required secret, which several tests read: made once for the file, as
 * Compose's output depends on its input alone.
 */
let complete: ReturnType<typeof config> | undefined;
const withEverySecret = () => (complete ??= config(t, required));

t.test('docker-compose.yml is valid once every required secret is given', async (t) => {
  const result = await withEverySecret();
  t.equal(result.code, 0, result.stderr);
  t.match(
    result.stdout,
    /DATABASE_URL: postgres:\/\/mercado_users:dummy-db-password@users-db:5432\/mercado_users/,
  );
});

t.test('each secret is required: no defaults, and the error names the variable', async (t) => {
  for (const name of Object.keys(required)) {
    const vars: Record<string, string> = { ...required };
    delete vars[name];
    const result = await config(t, vars);
    t.not(result.code, 0, `${name} missing`);
    t.match(result.stderr, `set ${name}`);
  }
});

t.test(
  'every service can be replicated; only the gateway and the broker publish ports',
  async (t) => {
    const text = readFileSync(composeFile, 'utf8');
    t.notMatch(text, /^\s*container_name:/m, 'no fixed container names');
    t.equal(text.match(/^\s*ports:/gm)?.length, 2, 'two ports sections');
    const result = await withEverySecret();
    t.match(
      result.stdout,
      /\n {2}gateway:[\s\S]*?ports:\n\s*- target: 8080\n(?!\s*published)/,
      'the gateway: no fixed host port',
    );
    t.match(
      result.stdout,
      /\n {2}broker:[\s\S]*?ports:\n\s*- target: 1883\n\s*- target: 8883\n(?!\s*published)/,
      'the broker: MQTT and MQTT over TLS, no fixed host port',
    );
    t.match(
      result.stdout,
      /\n {2}broker:[\s\S]*?REDIS_URL: redis:\/\/:dummy-redis-password@redis:6379\/1\n/,
      'the broker nodes share Redis, with its password: one cluster when scaled',
    );
    t.notMatch(result.stdout, /published/, 'no host port anywhere');
  },
);

t.test('Redis requires REDIS_PASSWORD and every client of it passes it', async (t) => {
  const result = await withEverySecret();
  t.equal(result.code, 0, result.stderr);
  const redis = /\n {2}redis:\n([\s\S]*?)\n {2}\S/.exec(result.stdout)?.[1] ?? '';
  t.match(redis, /- --requirepass\n\s*- dummy-redis-password\n/, 'the server requires it');
  t.match(redis, /REDISCLI_AUTH: dummy-redis-password\n/, 'its health check authenticates');
  t.match(redis, /redis-cli ping \| grep -q PONG/, 'and counts only PONG as healthy');
  const clients = [...result.stdout.matchAll(/(\w+): (redis:\/\/\S*)/g)].map(([, name, url]) => [
    name,
    new URL(url!).password,
  ]);
  t.same(
    clients,
    [
      ['REDIS_URL', 'dummy-redis-password'],
      ['RATE_LIMIT_REDIS_URL', 'dummy-redis-password'],
    ],
    'the broker and the gateway, each with the password',
  );
});

t.test(
  'each service gets its own broker password and no other; the broker only their digests',
  async (t) => {
    const result = await withEverySecret();
    t.equal(result.code, 0, result.stderr);
    const environment = (service: string) =>
      new RegExp(`\\n {2}${service}:\\n[\\s\\S]*?environment:\\n((?: {6}.*\\n)+)`).exec(
        result.stdout,
      )?.[1] ?? '';
    const passwords = {
      users: required.USERS_MQTT_PASSWORD,
      inventory: required.INVENTORY_MQTT_PASSWORD,
      gateway: required.GATEWAY_MQTT_PASSWORD,
      payments: required.PAYMENTS_MQTT_PASSWORD,
      orders: required.ORDERS_MQTT_PASSWORD,
    };
    for (const service of [
      'users',
      'products',
      'inventory',
      'orders',
      'payments',
      'broker',
      'gateway',
    ]) {
      const held = Object.entries(passwords)
        .filter(([, password]) => environment(service).includes(password))
        .map(([owner]) => owner);
      t.same(held, service in passwords ? [service] : [], `${service} holds only its own`);
    }
    t.match(environment('users'), `MQTT_PASSWORD: ${passwords.users}\n`);
    t.match(environment('inventory'), `MQTT_PASSWORD: ${passwords.inventory}\n`);
    t.match(environment('broker'), `MQTT_PASSWORD_HASHES_USERS: ${'a'.repeat(64)}\n`);
    t.match(environment('broker'), `MQTT_PASSWORD_HASHES_INVENTORY: ${'b'.repeat(64)}\n`);
    t.match(environment('gateway'), `MQTT_PASSWORD: ${passwords.gateway}\n`);
    t.match(environment('broker'), `MQTT_PASSWORD_HASHES_GATEWAY: ${'c'.repeat(64)}\n`);
    t.match(environment('payments'), `MQTT_PASSWORD: ${passwords.payments}\n`);
    t.match(environment('orders'), `MQTT_PASSWORD: ${passwords.orders}\n`);
    t.match(environment('broker'), `MQTT_PASSWORD_HASHES_ORDERS: ${'e'.repeat(64)}\n`);
    t.match(environment('broker'), `MQTT_PASSWORD_HASHES_PAYMENTS: ${'d'.repeat(64)}\n`);
    t.notMatch(environment('payments'), 'INTERNAL_SECRET', 'payments serves no HTTP route');
    for (const service of ['users', 'products', 'inventory', 'orders', 'broker', 'gateway']) {
      t.notMatch(environment(service), 'PAYMENTS_CARD_KEYS', `${service}: no card key`);
    }
    t.match(environment('payments'), 'PAYMENTS_CARD_KEYS: ');
  },
);

t.test('the .env that `npm run compose:env` prints satisfies the compose file', async (t) => {
  const { stdout: generated } = await promisify(execFile)(process.execPath, [
    path.join(repoRoot, 'scripts/dist/compose-env.js'),
  ]);
  const result = await config(t, {}, generated);
  t.equal(result.code, 0, result.stderr);
  const keys = /JWT_SIGNING_KEYS: '(.*)'/.exec(result.stdout)?.[1];
  t.match(JSON.parse(keys ?? 'null'), [
    { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', kid: String, d: String },
  ]);
  t.match(generated, /^INTERNAL_SECRET=[\w-]{64}$/m);
  t.match(generated, /^REDIS_PASSWORD=[\w-]{32}$/m, 'URL-safe');
  t.match(JSON.parse(/^PAYMENTS_CARD_KEYS='(.*)'$/m.exec(generated)?.[1] ?? 'null'), [
    { kty: 'OKP', crv: 'X25519', kid: String, d: String, alg: 'ECDH-ES+A256KW' },
  ]);
  t.match(generated, /^CARD_FINGERPRINT_KEY=[\w-]{43}$/m);
  for (const service of ['USERS', 'INVENTORY', 'ORDERS', 'PAYMENTS', 'GATEWAY']) {
    const password = new RegExp(`^${service}_MQTT_PASSWORD=([\\w-]{32})$`, 'm').exec(
      generated,
    )?.[1];
    t.ok(password, `${service}_MQTT_PASSWORD`);
    t.match(
      generated,
      new RegExp(`^${service}_MQTT_PASSWORD_HASH=${hashServiceMqttPassword(password ?? '')}$`, 'm'),
      'with its digest for the broker',
    );
  }
});

t.test(
  'the one Dockerfile copies every workspace manifest, so `npm ci` matches the lockfile',
  async (t) => {
    const dockerfile = readFileSync(path.join(repoRoot, 'services/Dockerfile'), 'utf8');
    const { workspaces } = JSON.parse(
      readFileSync(path.join(repoRoot, 'package.json'), 'utf8'),
    ) as {
      workspaces: string[];
    };
    for (const workspace of workspaces) {
      t.match(dockerfile, `COPY ${workspace}/package.json ${workspace}/\n`, workspace);
    }
    const result = await withEverySecret();
    for (const [, dir] of result.stdout.matchAll(/PACKAGE_DIR: (\S+)/g)) {
      t.ok(workspaces.includes(dir!), `${dir} is a workspace`);
    }
  },
);
