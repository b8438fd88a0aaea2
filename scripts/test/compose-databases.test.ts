import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { freePort } from '@mercado/common/testing';
import { repoRoot } from '../src/local-state.js';
import { databaseUrlVariable } from '../src/migrate-each.js';
import { startPostgres } from '../src/postgres.js';
import { databases } from '../src/processes.js';

/**
 * The databases of docker-compose.yml on a real Postgres: the init script the postgres image
 * runs on an empty volume (sql/init/service-databases.sh, through the Debian psql) gives each
 * service a role of its own that logs in to its own database and to no other's, and Compose's
 * `migrate` (scripts/dist/compose-migrate.js) applies every service's migrations as that role,
 * once. One throwaway server for the file: roles belong to a whole server, so not the test
 * runner's shared one.
 */

const services = databases().map((entry) => entry.name);
const superuser = randomBytes(18).toString('base64url');
const passwords = Object.fromEntries(
  services.map((service) => [service, randomBytes(18).toString('base64url')]),
);

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'mercado-compose-db-'));
const server = await startPostgres({
  dataDir: path.join(dataDir, 'pg'),
  port: await freePort(),
  password: superuser,
  persistent: false,
});
t.teardown(async () => {
  await server.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const urlOf = (service: string, password = passwords[service]!, database = `mercado_${service}`) =>
  `postgres://mercado_${service}:${password}@127.0.0.1:${server.port}/${database}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: Record<string, string>): Promise<Run> {
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** The init script as the postgres image runs it: the superuser, the names, the passwords. */
function initialise(names: string[], given: Record<string, string> = passwords): Promise<Run> {
  return run('bash', [path.join(repoRoot, 'sql/init/service-databases.sh')], {
    PGHOST: '127.0.0.1',
    PGPORT: String(server.port),
    PGPASSWORD: superuser,
    POSTGRES_USER: 'postgres',
    MERCADO_DATABASES: names.join(' '),
    ...Object.fromEntries(
      Object.entries(given).map(([service, password]) => [
        `${service.toUpperCase()}_DB_PASSWORD`,
        password,
      ]),
    ),
  });
}

/** What Postgres answers a login: the current user, or the SQLSTATE of the refusal. */
async function login(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query<{ user: string }>('select current_user as user');
    return rows[0]!.user;
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface Outcome {
  migrations: string;
  msg: string;
  applied?: string[];
}

/** migrate's run and its outcome lines (its log's other lines, knex's warnings, aside). */
async function migrateRun(env: Record<string, string>): Promise<Run & { outcomes: Outcome[] }> {
  const result = await run(
    process.execPath,
    [path.join(repoRoot, 'scripts/dist/compose-migrate.js')],
    env,
  );
  const outcomes = result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Outcome)
    .filter((line) => line.migrations !== undefined);
  return { ...result, outcomes };
}

/** The outcome lines by service: the order of the lines is no promise. */
function byService(outcomes: Outcome[]): Record<string, Omit<Outcome, 'migrations'>> {
  return Object.fromEntries(
    outcomes.map(({ migrations, msg, applied }) => [migrations, { msg, applied }]),
  );
}

const migrateEnv = Object.fromEntries(
  services.map((service) => [databaseUrlVariable(service), urlOf(service)]),
);

t.test('the init script refuses to guess: every listed service needs its password', async (t) => {
  const result = await initialise(['users'], {});
  t.equal(result.code, 1);
  t.match(result.stderr, 'set USERS_DB_PASSWORD (the password of mercado_users)');
  t.equal(await login(urlOf('users')), '28P01', 'and made nothing');
});

t.test('each service gets a role that logs in to its own database and no other', async (t) => {
  const result = await initialise(services);
  t.equal(result.code, 0, result.stderr);
  t.same(
    result.stdout.trim().split('\n'),
    services.map((service) => `service-databases.sh: mercado_${service} owns its database`),
  );
  for (const service of services) {
    t.equal(await login(urlOf(service)), `mercado_${service}`, `${service} logs in`);
    t.equal(await login(urlOf(service, 'not-the-password')), '28P01', 'with its password only');
  }
  t.equal(
    await login(urlOf('users', passwords.users, 'mercado_payments')),
    '42501',
    "users may not connect to payments' database",
  );
  t.equal(
    await login(urlOf('orders', passwords.orders, 'mercado_inventory')),
    '42501',
    "nor orders to inventory's",
  );

  const again = await initialise(services, { ...passwords, users: 'another-password' });
  t.equal(again.code, 0, 'run again, it leaves what exists as it is');
  t.equal(await login(urlOf('users')), 'mercado_users', 'the first password still holds');
});

t.test("migrate applies every service's migrations as its own role, once", async (t) => {
  const first = await migrateRun(migrateEnv);
  t.equal(first.code, 0, first.stderr);
  t.same(
    byService(first.outcomes),
    Object.fromEntries(
      services.map((service) => [
        service,
        {
          msg: 'migrations up to date',
          applied: readdirSync(path.join(repoRoot, 'sql', service))
            .filter((file) => file.endsWith('.sql'))
            .sort(),
        },
      ]),
    ),
  );
  for (const service of services) {
    const client = new pg.Client({ connectionString: urlOf(service) });
    await client.connect();
    const { rows } = await client.query<{ owner: string }>(
      "select distinct tableowner as owner from pg_tables where schemaname = 'public'",
    );
    await client.end();
    t.same(rows, [{ owner: `mercado_${service}` }], `${service}: its tables are its role's`);
  }

  const second = await migrateRun(migrateEnv);
  t.equal(second.code, 0, second.stderr);
  t.same(
    byService(second.outcomes),
    Object.fromEntries(
      services.map((service) => [service, { msg: 'migrations up to date', applied: [] }]),
    ),
    'nothing to apply the second time',
  );
});

t.test('migrate stops at once without every database URL, and fails on a bad one', async (t) => {
  const withoutOrders = { ...migrateEnv };
  delete withoutOrders[databaseUrlVariable('orders')];
  const missing = await migrateRun(withoutOrders);
  t.equal(missing.code, 2, 'a bad configuration');
  t.match(missing.stderr, 'ORDERS_DATABASE_URL is required');

  const wrong = await migrateRun({
    ...migrateEnv,
    [databaseUrlVariable('orders')]: urlOf('orders', 'not-the-password'),
  });
  t.equal(wrong.code, 1, 'one service failed');
  t.same(
    wrong.outcomes.map(({ migrations, msg }) => `${migrations}: ${msg}`).sort(),
    services
      .map(
        (service) =>
          `${service}: ${service === 'orders' ? 'migration failed' : 'migrations up to date'}`,
      )
      .sort(),
    'the others still checked',
  );
  t.notMatch(wrong.stdout, passwords.orders!, 'no password in the log');
});
