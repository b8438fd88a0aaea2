import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv } from 'ajv';
import t from 'tap';
import YAML from 'yaml';
import { hashServiceMqttPassword } from '@mercado/common/mqtt';
import { repoRoot } from '../src/local-state.js';
import {
  builtStage,
  composeConfig,
  composeFile,
  dockerStages,
  resolvedCompose,
  type ComposeService,
} from './compose-helpers.js';

/**
 * docker-compose.yml, the production shape, checked without a Docker engine: Compose v1.29's own
 * `config` and the compose-spec schema accept it; only the load balancer publishes ports;
 * frontend, gateway and broker run two replicas; one Postgres for the shop's services, each with
 * its own role, and one for payments; `migrate` before every service; health checks, restart
 * policies and named volumes; each service its own broker password; no secret in the file and
 * `.env.example` listing every variable. The settings each process reads are checked in
 * compose-settings.test.ts, the load balancer in compose-load-balancer.test.ts.
 */

const raw = readFileSync(composeFile, 'utf8');
/** Every `${VAR...}` the compose file reads, and whether each use of it is `${VAR:?...}`. */
const references = [...raw.matchAll(/\$\{([A-Z0-9_]+)(:?[-?])?/g)].map(([, name, operator]) => ({
  name: name!,
  required: operator === ':?',
}));
const variables = [...new Set(references.map((reference) => reference.name))].sort();
const required = variables.filter((name) =>
  references.some((reference) => reference.name === name && reference.required),
);

let resolved: ReturnType<typeof resolvedCompose> | undefined;
/** Compose's output depends on its input alone: resolved once for the file. */
const compose = () => (resolved ??= resolvedCompose(t));
const services = async () => (await compose()).document.services;

const databaseServices = ['users', 'products', 'inventory', 'orders', 'payments'];
const shopDatabases = ['users', 'products', 'inventory', 'orders'];

t.test('Compose and the compose-spec schema accept the file with the generated .env', async (t) => {
  const { document } = await compose();
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(
    readFileSync(path.join(repoRoot, 'scripts/vendor/compose-spec/compose-spec.json'), 'utf8'),
  ) as { $schema: string };
  const ajv = new Ajv({ allErrors: true, strict: false });
  // The schema names draft-07 by its https address, which Ajv knows by the http one.
  ajv.addMetaSchema({
    ...(require('ajv/dist/refs/json-schema-draft-07.json') as object),
    $id: schema.$schema,
  });
  const validate = ajv.compile(schema);
  t.ok(validate(document), 'valid');
  t.same(validate.errors ?? [], []);
  t.same(Object.keys(document.services).sort(), [
    'broker',
    'frontend',
    'gateway',
    'inventory',
    'load-balancer',
    'migrate',
    'orders',
    'payments',
    'payments-db',
    'products',
    'redis',
    'shop-db',
    'users',
  ]);
});

t.test('no secret has a default, and Compose refuses to start naming a missing one', async (t) => {
  const defaulted = references.filter(
    (reference) => required.includes(reference.name) && !reference.required,
  );
  t.same(defaulted, [], 'a required variable is required at every use');
  t.ok(required.length > 20, `${required.length} required variables`);
  const { vars } = await compose();
  // Compose stops at the first missing variable: a few of them stand for the rest.
  const missing = ['INTERNAL_SECRET', 'SHOP_DB_SUPERUSER_PASSWORD', 'PAYMENTS_CARD_KEYS'];
  const runs = await Promise.all(
    missing.map((name) => {
      const rest = Object.fromEntries(Object.entries(vars).filter(([key]) => key !== name));
      return composeConfig(t, rest);
    }),
  );
  runs.forEach((run, index) => {
    t.not(run.code, 0, `${missing[index]} missing`);
    t.match(run.stderr, `set ${missing[index]}`);
  });
});

t.test('.env.example lists every variable the compose file reads, its secrets blank', async (t) => {
  const example = readFileSync(path.join(repoRoot, '.env.example'), 'utf8');
  const entries = [...example.matchAll(/^([A-Z0-9_]+)=(.*)$/gm)].map(([, key, value]) => ({
    key: key!,
    value: value!,
  }));
  t.same(entries.map((entry) => entry.key).sort(), variables, 'the same variables');
  t.same(
    entries.filter((entry) => required.includes(entry.key) && entry.value !== ''),
    [],
    'every required one blank',
  );
  const defaults = Object.fromEntries(
    [...raw.matchAll(/\$\{([A-Z0-9_]+):-([^}]*)\}/g)].map(([, key, value]) => [key, value]),
  );
  t.same(
    entries.filter((entry) => !required.includes(entry.key) && entry.value !== defaults[entry.key]),
    [],
    'every other one with the compose file default',
  );
  const { vars } = await compose();
  t.same(
    required.filter((name) => !vars[name]),
    [],
    '`npm run compose:env` sets every required one',
  );
});

t.test('only the load balancer publishes host ports, each configurable', async (t) => {
  const all = await services();
  t.same(
    Object.entries(all)
      .filter(([, service]) => service.ports)
      .map(([name]) => name),
    ['load-balancer'],
  );
  t.same(all['load-balancer']!.ports, [
    { published: 80, target: 8080 },
    { published: 443, target: 8443 },
    { published: 1883, target: 1883 },
    { published: 8883, target: 8883 },
  ]);
  const ports = (YAML.parse(raw) as { services: Record<string, { ports: string[] }> }).services[
    'load-balancer'
  ]!.ports;
  t.same(ports, [
    '${LB_HTTP_PORT:-80}:8080',
    '${LB_HTTPS_PORT:-443}:8443',
    '${LB_MQTT_PORT:-1883}:1883',
    '${LB_MQTTS_PORT:-8883}:8883',
  ]);
  t.notMatch(raw, /^\s*container_name:/m, 'no fixed container names: every service scales');
});

t.test('frontend, gateway and broker start with two replicas; the rest with one', async (t) => {
  const all = await services();
  const replicated = Object.entries(all)
    .filter(([, service]) => service.deploy?.replicas !== undefined)
    .map(([name, service]) => [name, service.deploy?.replicas]);
  t.same(replicated, [
    ['broker', 2],
    ['frontend', 2],
    ['gateway', 2],
  ]);
});

t.test(
  'one Postgres server for the shop, one for payments; every service its own role',
  async (t) => {
    const all = await services();
    const { vars } = await compose();
    for (const name of databaseServices) {
      const url = new URL(all[name]!.environment!.DATABASE_URL!);
      t.same(
        {
          host: url.host,
          user: url.username,
          password: url.password,
          database: url.pathname,
        },
        {
          host: name === 'payments' ? 'payments-db:5432' : 'shop-db:5432',
          user: `mercado_${name}`,
          password: vars[`${name.toUpperCase()}_DB_PASSWORD`],
          database: `/mercado_${name}`,
        },
        `${name}: its own database, as its own role`,
      );
    }
    const server = (name: string, databases: string[], superuser: string) => {
      const service = all[name]!;
      t.equal(service.image, 'postgres:17');
      t.same(service.environment, {
        POSTGRES_PASSWORD: vars[superuser],
        MERCADO_DATABASES: databases.join(' '),
        ...Object.fromEntries(
          databases.map((database) => [
            `${database.toUpperCase()}_DB_PASSWORD`,
            vars[`${database.toUpperCase()}_DB_PASSWORD`],
          ]),
        ),
      });
      t.same(service.volumes, [
        `${name}:/var/lib/postgresql/data:rw`,
        `${path.join(repoRoot, 'sql/init/service-databases.sh')}:/docker-entrypoint-initdb.d/10-service-databases.sh:ro`,
      ]);
    };
    server('shop-db', shopDatabases, 'SHOP_DB_SUPERUSER_PASSWORD');
    server('payments-db', ['payments'], 'PAYMENTS_DB_SUPERUSER_PASSWORD');
  },
);

t.test('migrate runs once before the services, which no longer migrate themselves', async (t) => {
  const all = await services();
  const migrate = all.migrate!;
  t.equal(migrate.restart, 'no');
  t.equal(migrate.build?.target, 'migrate');
  t.same(migrate.depends_on, {
    'payments-db': { condition: 'service_healthy' },
    'shop-db': { condition: 'service_healthy' },
  });
  for (const name of databaseServices) {
    const service = all[name]!;
    t.equal(service.environment?.MIGRATE_ON_START, 'false', `${name}: MIGRATE_ON_START=false`);
    t.same(service.depends_on?.migrate, { condition: 'service_completed_successfully' });
    t.equal(
      migrate.environment?.[`${name.toUpperCase()}_DATABASE_URL`],
      service.environment?.DATABASE_URL,
      `migrate applies ${name}'s migrations as ${name} connects`,
    );
  }
});

/** Whether a service has a health check: its own, or its image's HEALTHCHECK. */
function healthChecked(service: ComposeService): boolean {
  if (service.healthcheck) return true;
  return service.build !== undefined && builtStage(service).stage.healthcheck !== undefined;
}

t.test(
  'health checks gate the start order; restart policies; state on named volumes',
  async (t) => {
    const all = await services();
    const { document } = await compose();
    for (const [name, service] of Object.entries(all)) {
      t.equal(service.restart, name === 'migrate' ? 'no' : 'unless-stopped', `${name}: restart`);
      if (name !== 'migrate') t.ok(healthChecked(service), `${name}: health-checked`);
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        t.equal(
          condition,
          dependency === 'migrate' ? 'service_completed_successfully' : 'service_healthy',
          `${name} waits for ${dependency}`,
        );
      }
    }
    t.same(Object.keys(all['load-balancer']!.depends_on ?? {}).sort(), [
      'broker',
      'frontend',
      'gateway',
    ]);
    t.same(Object.keys(document.volumes ?? {}).sort(), ['payments-db', 'redis', 'shop-db']);
    t.match(all.redis!.volumes, ['redis:/data:rw']);
  },
);

t.test('Redis requires REDIS_PASSWORD and every client of it passes it', async (t) => {
  const all = await services();
  const { vars } = await compose();
  const password = vars.REDIS_PASSWORD!;
  t.same(all.redis!.command?.slice(-2), ['--requirepass', password], 'the server requires it');
  t.equal(all.redis!.environment?.REDISCLI_AUTH, password, 'its health check authenticates');
  t.same(all.redis!.healthcheck?.test, ['CMD-SHELL', 'redis-cli ping | grep -q PONG']);
  const clients = Object.entries(all).flatMap(([name, service]) =>
    Object.entries(service.environment ?? {})
      .filter(([, value]) => value.startsWith('redis://'))
      .map(([key, value]) => [name, key, new URL(value).password]),
  );
  t.same(clients, [
    ['broker', 'REDIS_URL', password],
    ['gateway', 'RATE_LIMIT_REDIS_URL', password],
  ]);
});

t.test(
  'each service holds its own broker password and no other; the broker their digests',
  async (t) => {
    const all = await services();
    const { vars } = await compose();
    const owners = ['users', 'inventory', 'orders', 'payments', 'gateway'];
    for (const [name, service] of Object.entries(all)) {
      const values = Object.values(service.environment ?? {});
      const held = owners.filter((owner) =>
        values.includes(vars[`${owner.toUpperCase()}_MQTT_PASSWORD`]!),
      );
      t.same(held, owners.includes(name) ? [name] : [], `${name} holds only its own`);
      if (owners.includes(name)) {
        t.equal(service.environment?.MQTT_PASSWORD, vars[`${name.toUpperCase()}_MQTT_PASSWORD`]);
      }
    }
    for (const owner of owners) {
      t.equal(
        all.broker!.environment?.[`MQTT_PASSWORD_HASHES_${owner.toUpperCase()}`],
        hashServiceMqttPassword(vars[`${owner.toUpperCase()}_MQTT_PASSWORD`]!),
        `the broker admits ${owner} by the digest compose:env made`,
      );
    }
    t.notOk(all.payments!.environment?.INTERNAL_SECRET, 'payments serves no HTTP route');
    const cardKeyHolders = Object.entries(all)
      .filter(([, service]) => service.environment?.PAYMENTS_CARD_KEYS)
      .map(([name]) => name);
    t.same(cardKeyHolders, ['payments'], 'the card keys reach payments only');
  },
);

t.test('every image is built in stages, from the lockfile, and runs unprivileged', async (t) => {
  const { workspaces } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
    workspaces: string[];
  };
  for (const file of ['services/Dockerfile', 'frontend/Dockerfile']) {
    const text = readFileSync(path.join(repoRoot, file), 'utf8');
    for (const workspace of workspaces) {
      t.match(text, `COPY ${workspace}/package.json ${workspace}/\n`, `${file}: ${workspace}`);
    }
    t.ok(dockerStages(file).length >= 3, `${file}: build, dependencies and runtime stages`);
    const installs = text
      .replace(/\\\n/g, ' ')
      .split('\n')
      .filter((line) => /^RUN .*npm (ci|install)/.test(line));
    t.ok(installs.length >= 2, `${file}: installs from the lockfile`);
    t.same(
      installs.filter((line) => !/npm ci .*--ignore-scripts/.test(line)),
      [],
      `${file}: npm ci, and no package's install scripts`,
    );
  }
  const all = await services();
  for (const [name, service] of Object.entries(all)) {
    if (!service.build) continue;
    const { file, stage } = builtStage(service);
    t.ok(stage.user && stage.user !== 'root', `${name} (${file}): runs as ${stage.user}`);
    const args = service.build.args ?? {};
    if (args.PACKAGE_DIR) t.ok(workspaces.includes(args.PACKAGE_DIR), `${name}: a workspace`);
  }
  t.match(readFileSync(path.join(repoRoot, 'services/Dockerfile'), 'utf8'), /--omit=dev/);
  t.match(readFileSync(path.join(repoRoot, 'frontend/Dockerfile'), 'utf8'), /--omit=dev/);
});
