import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { openDatabaseServer } from '../src/database-server.js';
import { freePort } from '@mercado/common/testing';
import { loadOrCreateSecrets } from '../src/local-secrets.js';
import { acquireLauncherLock, AlreadyRunningError, repoRoot } from '../src/local-state.js';
import { databases, outputNames, processes } from '../src/processes.js';
import { alive, eventually, until } from './helpers.js';

// The whole system starts several times in this file: minutes on a loaded 2-core machine. Every
// wait inside is for an event (a line, an exit); this only bounds a run that would never end.
t.setTimeout(900_000);

/** Output lines start with the process name padded to the longest name the launcher shows. */
const prefixWidth = Math.max(...outputNames.map((name) => name.length));
const tag = (name: string) => `${name.padEnd(prefixWidth)} |`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A pattern for a line `name` printed: the tag, a space, then `rest` (a regular expression). */
const said = (name: string, rest: string) => new RegExp(`${escape(tag(name))} ${rest}`);

interface Teardown {
  teardown(fn: () => unknown): void;
}

async function tempDir(t: Teardown, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `mercado-${prefix}-`));
  // As root the embedded Postgres runs as the `postgres` user, who must reach its data directory.
  await chmod(dir, 0o755);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs a compiled script of scripts/ as `npm start`/`npm run migrate` would, collecting its lines. */
/** Every active product (all pages) and how many categories the tree has. */
async function demoCatalog(url: string) {
  const products: Array<{ id: string; sellerId: string }> = [];
  let cursor: string | null = null;
  do {
    const page = (await (
      await fetch(`${url}/api/products?limit=100${cursor ? `&cursor=${cursor}` : ''}`)
    ).json()) as { items: typeof products; nextCursor: string | null };
    products.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  type Node = { children: Node[] };
  const count = (nodes: Node[]): number =>
    nodes.reduce((sum, node) => sum + 1 + count(node.children), 0);
  const tree = (await (await fetch(`${url}/api/categories`)).json()) as { items: Node[] };
  return { products, categories: count(tree.items) };
}

function run(t: Teardown, script: string, env: Record<string, string | undefined>) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const key of [
    'DATABASE_URL',
    'PORT',
    'HOST',
    'MERCADO_PG_PORT',
    'MERCADO_DATA_DIR',
    'LOG_LEVEL',
  ]) {
    delete childEnv[key];
  }
  const proc: ChildProcess = spawn(
    process.execPath,
    [path.join(repoRoot, 'scripts/dist', script)],
    {
      cwd: repoRoot,
      env: { ...childEnv, ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('close', (code) => {
      if (partial) lines.push(partial);
      resolve(code);
    }),
  );
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  });
  const text = () => lines.join('\n');
  return {
    proc,
    lines,
    text,
    exited,
    /**
     * Waits for a line matching `pattern`, failing early if the process ends first. The bound is
     * only there to name what never came: a start takes minutes on a loaded 2-core machine.
     */
    async waitFor(pattern: RegExp, timeoutMs = 240_000): Promise<RegExpExecArray> {
      let ended = false;
      void exited.then(() => (ended = true));
      await until(
        () => lines.some((line) => pattern.test(line)) || ended,
        timeoutMs,
        `${pattern} in the output of ${script}:\n${text()}`,
      );
      const found = lines.map((line) => pattern.exec(line)).find(Boolean);
      if (!found) throw new Error(`${script} ended without printing ${pattern}:\n${text()}`);
      return found;
    },
    /** pids the launcher reported, by process name. */
    pids(name: string): number[] {
      return [...text().matchAll(new RegExp(`${name} (?:re)?started \\(pid (\\d+)\\)`, 'g'))].map(
        (m) => Number(m[1]),
      );
    },
    /** Every pid the launcher reported for every process it runs; each process must have one. */
    everyPid(t: { ok(value: unknown, message: string): void }): number[] {
      return processes.flatMap(({ name }) => {
        const pids = this.pids(name);
        t.ok(pids.length > 0, `${name} was started`);
        return pids;
      });
    },
  };
}

async function login(url: string, email: string, password: string): Promise<number> {
  const response = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  await response.body?.cancel();
  return response.status;
}

async function postgresPid(dataDir: string): Promise<number> {
  return Number(
    (await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0],
  );
}

async function lockPid(dataDir: string): Promise<number> {
  return Number(await readFile(path.join(dataDir, 'launcher.pid'), 'utf8'));
}

t.test(
  'local secrets are generated once, kept private, and completed after an upgrade',
  async (t) => {
    const dir = path.join(await tempDir(t, 'secrets'), 'data');
    const first = await loadOrCreateSecrets(dir);
    t.equal(first.created, true);
    t.same(first.generated.sort(), [
      'adminEmail',
      'adminPassword',
      'cardFingerprintKey',
      'demoPassword',
      'internalSecret',
      'jwtActiveKid',
      'jwtSigningKeys',
      'mqttPasswords',
      'paymentsCardKeys',
      'postgresPassword',
    ]);
    t.equal(statSync(first.file).mode & 0o777, 0o600, 'readable by the owner only');
    const { secrets } = first;
    t.ok(secrets.internalSecret.length >= 32, 'INTERNAL_SECRET meets the services minimum');
    t.equal(secrets.adminEmail, 'admin@mercado.local');
    t.match(secrets.jwtSigningKeys, [
      { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', d: String, x: String },
    ]);
    t.equal(secrets.jwtActiveKid, secrets.jwtSigningKeys[0]!.kid);

    const again = await loadOrCreateSecrets(dir);
    t.same(again, { ...first, created: false, generated: [] });

    const older: Record<string, unknown> = { ...secrets };
    delete older.adminPassword;
    await writeFile(first.file, JSON.stringify(older));
    await chmod(first.file, 0o644);
    const upgraded = await loadOrCreateSecrets(dir);
    t.same(upgraded.generated, ['adminPassword']);
    t.equal(upgraded.secrets.internalSecret, secrets.internalSecret, 'the others are kept');
    t.not(upgraded.secrets.adminPassword, secrets.adminPassword);
    t.equal(statSync(first.file).mode & 0o777, 0o600, 'the mode is put back');

    await writeFile(first.file, '{ not json');
    await t.rejects(loadOrCreateSecrets(dir), /cannot read .*secrets\.json/);
  },
);

t.test('keys:generate prints one new private signing key, and how to roll it in', async (t) => {
  const keys = run(t, 'keys.js', {});
  t.equal(await keys.exited, 0);
  const [line, ...hint] = keys.lines;
  const key = JSON.parse(line!) as Record<string, string>;
  t.match(key, { kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', d: String, x: String });
  t.match(key.kid, /^\d{4}-\d{2}-\d{2}-[0-9a-f]{8}$/, 'the kid starts with the date');
  t.match(hint.join('\n'), `JWT_ACTIVE_KID=${key.kid}`);
});

t.test('one launcher per data directory; a dead launcher’s lock is taken over', async (t) => {
  const dir = await tempDir(t, 'lock');
  const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
    stdio: 'ignore',
  });
  t.teardown(() => sleeper.kill('SIGKILL'));
  await writeFile(path.join(dir, 'launcher.pid'), `${sleeper.pid}\n`);
  await t.rejects(acquireLauncherLock(dir), AlreadyRunningError);
  await t.rejects(
    acquireLauncherLock(dir),
    new RegExp(`already running .*launcher pid ${sleeper.pid}`),
  );
  sleeper.kill('SIGKILL');
  await until(() => !alive(sleeper.pid!));
  const lock = await acquireLauncherLock(dir);
  t.equal(readFileSync(path.join(dir, 'launcher.pid'), 'utf8'), `${process.pid}\n`);
  await lock.release();
});

t.test('DATABASE_URL and MERCADO_PG_PORT are checked before anything starts', async (t) => {
  const dir = await tempDir(t, 'db');
  const open = (env: NodeJS.ProcessEnv) =>
    openDatabaseServer({ env, dataDir: dir, password: 'x', log: () => {} });
  await t.rejects(open({ DATABASE_URL: 'not a url' }), /DATABASE_URL is not a URL/);
  await t.rejects(open({ DATABASE_URL: 'mysql://h/db' }), /must be a postgres:\/\/ URL/);
  const external = await open({ DATABASE_URL: 'postgres://u:secret@db.example:6543/postgres' });
  t.equal(external.description, 'Postgres at db.example:6543 (DATABASE_URL)');
  t.notMatch(external.description, /secret/);
  await external.stop();
  await t.rejects(open({ MERCADO_PG_PORT: '70000' }), /MERCADO_PG_PORT must be a port number/);
});

t.test(
  'every launched process has a compiled entry and a unique name; databases have migrations',
  async (t) => {
    const names = processes.map((entry) => entry.name);
    t.same(new Set(names).size, names.length);
    t.equal(
      processes.filter((entry) => entry.public).length,
      1,
      'one process takes the public port',
    );
    for (const { migrations } of databases()) {
      t.ok(statSync(path.join(repoRoot, migrations)).isDirectory(), `${migrations} exists`);
    }
  },
);

t.test(
  'a taken public port stops the launcher with one clear line, before anything starts',
  async (t) => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.teardown(() => blocker.close());
    const port = (blocker.address() as net.AddressInfo).port;
    const launcher = run(t, 'start.js', {
      MERCADO_DATA_DIR: await tempDir(t, 'busy'),
      PORT: String(port),
    });
    t.equal(await launcher.exited, 1);
    t.match(launcher.text(), `cannot start: port ${port} on 127.0.0.1 is already in use`);
    t.notMatch(launcher.text(), /users started/);

    // The broker's MQTT port is a fixed one too (terminals are configured with it).
    const mqttLauncher = run(t, 'start.js', {
      MERCADO_DATA_DIR: await tempDir(t, 'busy-mqtt'),
      PORT: String(await freePort()),
      MQTT_PORT: String(port),
    });
    t.equal(await mqttLauncher.exited, 1);
    t.match(
      mqttLauncher.text(),
      `cannot start: port ${port} on 127.0.0.1 (MQTT) is already in use`,
    );
    t.notMatch(mqttLauncher.text(), /users started/);
  },
);

t.test(
  'npm start: a fresh data directory, a crash, a clean stop, and a second run on the same data',
  async (t) => {
    const dataDir = await tempDir(t, 'start');
    const port = await freePort();
    const mqttPort = await freePort();
    const env = { MERCADO_DATA_DIR: dataDir, PORT: String(port), MQTT_PORT: String(mqttPort) };
    const url = `http://127.0.0.1:${port}`;

    // The gateway skips a service whose connection was refused for UPSTREAM_COOLDOWN_MS (5 s by
    // default): the sign-in after the crash below would wait that long for its breaker to let a
    // trial through, not for users to be back. Any setting given to npm start reaches the services.
    const first = run(t, 'start.js', { ...env, UPSTREAM_COOLDOWN_MS: '200' });
    const headline = await first.waitFor(/^Mercado is running at (\S+) {2}\(health: (\S+);/);
    t.equal(headline[1], url);
    t.equal(headline[2], `${url}/api/health`);
    const secrets = JSON.parse(
      await readFile(path.join(dataDir, 'secrets.json'), 'utf8'),
    ) as Record<string, unknown>;
    t.equal(statSync(path.join(dataDir, 'secrets.json')).mode & 0o777, 0o600);
    t.ok(
      first.lines.includes(
        `${tag('mercado')} admin account: admin@mercado.local  password: ${String(secrets.adminPassword)}`,
      ),
      'the first run prints the admin credentials',
    );
    t.ok(
      first.lines.some((line) => line.startsWith(`${tag('users')} {"level":"info"`)),
      'service lines are prefixed and stay JSON',
    );
    t.ok(first.lines.some((line) => line.startsWith(`${tag('gateway')} {`)));
    t.ok(
      first.lines.some((line) =>
        line.startsWith(`${tag('mercado')} MQTT broker: mqtt://127.0.0.1:${mqttPort} `),
      ),
      'the broker runs too, on MQTT_PORT',
    );
    t.equal((await fetch(`${url}/api/health`)).status, 200);
    t.equal(
      await login(url, 'admin@mercado.local', String(secrets.adminPassword)),
      200,
      'the admin can sign in',
    );

    // The demo shop: loaded through the API, printed with its accounts.
    t.ok(
      first.lines.includes(
        `${tag('mercado')} demo shop: 242 products added, 0 already there, 14 categories added`,
      ),
    );
    for (const email of [
      'compras@mercado.local',
      'ventas@tecnonorte.example',
      'hola@casasur.example',
    ]) {
      t.ok(
        first.lines.some((line) =>
          line.includes(`${email}  password: ${String(secrets.demoPassword)}`),
        ),
      );
      t.equal(
        await login(url, email, String(secrets.demoPassword)),
        200,
        `demo account ${email} signs in`,
      );
    }
    const catalog = await demoCatalog(url);
    t.equal(catalog.products.length, 242, 'at least 200 demo products');
    t.ok(catalog.categories >= 8, 'in at least 8 categories');
    t.equal(new Set(catalog.products.map((product) => product.sellerId)).size, 2, 'from 2 sellers');
    const laptops = (await (await fetch(`${url}/api/products?q=lap&limit=5`)).json()) as {
      items: unknown[];
    };
    t.ok(laptops.items.length > 0, 'search finds "lap"');
    const stocks = await Promise.all(
      catalog.products.slice(0, 30).map(
        async (product) =>
          (
            (await (await fetch(`${url}/api/inventory/${product.id}`)).json()) as {
              regions: Array<{ region: string; onHand: number }>;
            }
          ).regions,
      ),
    );
    t.ok(
      stocks.every((regions) => regions.length >= 2 && regions.some((r) => r.onHand > 0)),
      'stock in every region',
    );
    t.ok(
      stocks.flat().some((region) => region.onHand === 0),
      'some items out of stock',
    );
    t.ok(
      stocks.flat().some((region) => region.onHand > 0 && region.onHand < 5),
      'some items low',
    );
    const image = await fetch(`${url}/api/products/${catalog.products[0]!.id}`);
    t.match(
      ((await image.json()) as { imageUrls: string[] }).imageUrls[0],
      /^\/images\/demo\/[a-z]+\.svg$/,
    );

    const [usersPid] = first.pids('users');
    const pgPid = await postgresPid(dataDir);
    const launcherPid = await lockPid(dataDir);
    t.not(launcherPid, first.proc.pid, 'the launcher runs apart from the process in the terminal');
    process.kill(usersPid!, 'SIGKILL');
    await first.waitFor(
      said('mercado', 'users exited unexpectedly \\(pid \\d+, signal SIGKILL\\)'),
    );
    await first.waitFor(said('mercado', 'restarting users in 0\\.5 s'));
    await first.waitFor(said('mercado', 'users restarted \\(pid \\d+\\)'));
    t.equal(first.pids('users').length, 2);
    await eventually(
      async () => (await login(url, 'admin@mercado.local', String(secrets.adminPassword))) === 200,
      undefined,
      'sign-in after the restart',
    );
    // Every process of the run (users twice: before and after its crash), Postgres, the launcher.
    const firstRun = [...first.everyPid(t), pgPid, launcherPid];

    first.proc.kill('SIGTERM');
    t.equal(await first.exited, 0, 'a stop on SIGTERM exits 0');
    t.match(
      first.text(),
      said('mercado', `stopping Postgres\\n${escape(tag('mercado'))} stopped$`),
    );
    t.same(
      firstRun.filter((pid) => alive(pid)),
      [],
      'no process is left behind',
    );
    const everything = first.text();
    for (const key of ['internalSecret', 'postgresPassword']) {
      t.notOk(everything.includes(String(secrets[key])), `${key} never reaches the output`);
    }
    const [signingKey] = secrets.jwtSigningKeys as Array<{ d: string }>;
    t.notOk(everything.includes(signingKey!.d), 'the private signing key never reaches the output');
    t.equal(
      everything.split(String(secrets.adminPassword)).length,
      2,
      'the admin password is printed once',
    );

    const second = run(t, 'start.js', env);
    await second.waitFor(/^Mercado is running at /);
    t.ok(
      second.lines.includes(
        `${tag('mercado')} admin account: admin@mercado.local (its password is "adminPassword" in ${path.join(dataDir, 'secrets.json')})`,
      ),
      'a later run says where the password is kept',
    );
    t.notOk(second.text().includes(String(secrets.adminPassword)));
    t.ok(
      second.lines.includes(`${tag('mercado')} demo shop: 0 products added, 242 already there`),
      'the demo data is loaded once',
    );
    t.equal((await demoCatalog(url)).products.length, 242);
    t.equal(
      /127\.0\.0\.1:(\d+), data in/.exec(second.text())?.[1],
      /127\.0\.0\.1:(\d+), data in/.exec(first.text())?.[1],
      'Postgres keeps its port',
    );
    t.equal(
      await login(url, 'admin@mercado.local', String(secrets.adminPassword)),
      200,
      'the data is kept',
    );
    const again = run(t, 'start.js', { ...env, PORT: String(await freePort()) });
    t.equal(await again.exited, 1, 'a second launcher on the same data directory is refused');
    t.match(again.text(), /Mercado is already running on .* \(launcher pid \d+\)/);

    const pids = [...second.everyPid(t), await postgresPid(dataDir), await lockPid(dataDir)];
    second.proc.kill('SIGINT');
    t.equal(await second.exited, 0, 'a stop on SIGINT exits 0');
    t.same(
      pids.filter((pid) => alive(pid)),
      [],
      'no process is left behind',
    );
  },
);

t.test('with DATABASE_URL, migrate and start use that server', async (t) => {
  const serverUrl = process.env.MERCADO_TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('run through `npm test`, which starts the test Postgres');
  const dataDir = await tempDir(t, 'external');

  const migrate = run(t, 'migrate.js', { MERCADO_DATA_DIR: dataDir, DATABASE_URL: serverUrl });
  t.equal(await migrate.exited, 0, migrate.text());
  t.match(migrate.text(), /users: (applied 0001_|up to date)/);

  const port = await freePort();
  const launcher = run(t, 'start.js', {
    MERCADO_DATA_DIR: dataDir,
    PORT: String(port),
    MQTT_PORT: String(await freePort()),
    DATABASE_URL: serverUrl,
    // The demo shop is the first test's (loaded, then kept); here it would only add 242 products.
    MERCADO_DEMO: 'false',
  });
  await launcher.waitFor(/^Mercado is running at /);
  t.match(launcher.text(), /database: Postgres at 127\.0\.0\.1:\d+ \(DATABASE_URL\)/);
  t.notMatch(launcher.text(), /postgres +\|/, 'no embedded Postgres');
  // Killed outright, the terminal side cannot pass anything on: the launcher notices it is gone.
  const pids = [...launcher.everyPid(t), await lockPid(dataDir)];
  t.equal(pids.length, processes.length + 1, 'one pid per process, and the launcher');
  launcher.proc.kill('SIGKILL');
  await launcher.exited;
  await until(
    () => !pids.some(alive),
    undefined,
    'every process to stop after SIGKILL of npm start',
  );

  const again = run(t, 'migrate.js', { MERCADO_DATA_DIR: dataDir, DATABASE_URL: serverUrl });
  t.equal(await again.exited, 0);
  t.match(again.text(), /users: up to date/);
});

t.test(
  'a service that rejects its configuration stops the launch, with its own reason',
  async (t) => {
    const serverUrl = process.env.MERCADO_TEST_DATABASE_URL!;
    const launcher = run(t, 'start.js', {
      MERCADO_DATA_DIR: await tempDir(t, 'config'),
      PORT: String(await freePort()),
      MQTT_PORT: String(await freePort()),
      DATABASE_URL: serverUrl,
      // Reaches the users service unchanged, like any setting given to `npm start`; below its minimum.
      ACCESS_TOKEN_TTL_SECONDS: '1',
    });
    t.equal(await launcher.exited, 1);
    const text = launcher.text();
    t.match(text, said('users', 'invalid configuration: ACCESS_TOKEN_TTL_SECONDS'));
    t.match(text, /users reported an invalid configuration \(exit 2\): not restarting it/);
    t.match(text, /cannot start: users has an invalid configuration/);
    t.notMatch(text, /gateway started/);
    t.equal(launcher.pids('users').length, 1, 'tried once');
  },
);
