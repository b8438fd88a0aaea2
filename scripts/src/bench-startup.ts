import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@mercado/common/testing';
import { repoRoot } from './local-state.js';
import { postgresDirectoryName } from './database-server.js';
import { removePostgresData } from './postgres.js';

/**
 * `npm run bench:startup`: how long a newcomer waits. Clones this repository's committed HEAD (or
 * BENCH_STARTUP_REF) into a fresh temporary folder (mode 0700, like a home directory), runs
 * `npm ci` there (not timed), then times `npm start` twice: the first run (nothing built, no data),
 * then a second one on the same clone (built, data kept). For each it prints when every phase
 * ended, from the moment `npm start` was spawned: the launcher's own lines, timestamped as they
 * arrive, and the first 200 from `GET /api/products`, polled every 25 ms. Figures, never a verdict.
 */

interface Mark {
  label: string;
  at: number;
}

/** Launcher lines that end a phase, and how the table names that phase. */
const phases: Array<[RegExp, (match: RegExpExecArray) => string]> = [
  [/^mercado +\| (?:starting|database:)/, () => 'launcher up (npm start, build, node)'],
  [/^mercado +\| database: /, () => 'Postgres ready'],
  [/^mercado +\| (\S+) is ready on /, (m) => `${m[1]} ready`],
  [/^mercado +\| demo shop: /, () => 'demo data loaded'],
  [/^Mercado is running at /, () => 'running'],
];

async function main(): Promise<void> {
  const ref = process.env.BENCH_STARTUP_REF ?? 'HEAD';
  const commit = git(['rev-parse', '--short', ref], repoRoot);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-bench-startup-'));
  const clone = path.join(dir, 'mercado');
  // To time a commit from before npm start worked from a closed folder as root.
  if (process.env.BENCH_STARTUP_OPEN === '1') await chmod(dir, 0o755);
  try {
    process.stdout.write(`cloning ${commit} into ${clone}\n`);
    git(['clone', '--quiet', '--no-hardlinks', repoRoot, clone], dir);
    git(['checkout', '--quiet', '--detach', commit], clone);
    process.stdout.write('npm ci (not timed)\n');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: clone,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const first = await timeStart(clone);
    const second = await timeStart(clone);
    // The build on its own, from nothing again (part of "launcher up" in the first run above).
    const { workspaces } = JSON.parse(readFileSync(path.join(clone, 'package.json'), 'utf8')) as {
      workspaces: string[];
    };
    for (const workspace of workspaces) {
      await rm(path.join(clone, workspace, 'dist'), { recursive: true, force: true });
    }
    const buildStarted = performance.now();
    const fast = existsSync(path.join(clone, 'scripts', 'transpile.mjs'));
    execFileSync(
      fast ? process.execPath : 'npx',
      fast ? ['scripts/transpile.mjs'] : ['tsc', '-b'],
      {
        cwd: clone,
        stdio: 'inherit',
      },
    );
    const build = (performance.now() - buildStarted) / 1000;
    process.stdout.write(
      `\nnpm start from a fresh clone of ${commit} (${os.cpus().length} cores; s since npm start)\n`,
    );
    printTable([
      ['first run', first],
      ['second run', second],
    ]);
    const what = fast ? 'scripts/transpile.mjs' : 'tsc -b';
    process.stdout.write(`(the build alone, ${what}: ${build.toFixed(1)} s)\n`);
  } finally {
    await removePostgresData(path.join(clone, '.mercado', postgresDirectoryName)).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `npm start` in `clone` until it is running, then stops it as Ctrl-C would. */
async function timeStart(clone: string): Promise<Mark[]> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    MQTT_PORT: String(await freePort()),
    NO_COLOR: '1',
  };
  for (const key of ['DATABASE_URL', 'MERCADO_DATA_DIR', 'MERCADO_PG_PORT', 'LOG_LEVEL']) {
    delete env[key];
  }
  const started = performance.now();
  const since = () => (performance.now() - started) / 1000;
  // Its own process group, so that the stop below reaches npm and everything under it at once,
  // like a Ctrl-C in a terminal.
  const npm = spawn('npm', ['start'], {
    cwd: clone,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const marks: Mark[] = [];
  const output: string[] = [];
  let partial = '';
  let running!: () => void;
  const isRunning = new Promise<void>((resolve) => (running = resolve));
  const onData = (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      output.push(line);
      for (const [pattern, label] of phases) {
        const match = pattern.exec(line);
        const name = match && label(match);
        if (name && !marks.some((mark) => mark.label === name)) {
          marks.push({ label: name, at: since() });
          if (name === 'running') running();
        }
      }
    }
  };
  npm.stdout.on('data', onData);
  npm.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => npm.once('close', resolve));
  let ended = false;
  void exited.then(() => (ended = true));

  const firstProducts = (async () => {
    while (!ended) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/api/products?limit=1`);
        await response.body?.cancel();
        if (response.status === 200)
          return marks.push({ label: 'first 200 /api/products', at: since() });
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })();

  await Promise.race([isRunning, exited]);
  if (ended) {
    throw new Error(`npm start ended before it was running:\n${output.slice(-30).join('\n')}`);
  }
  await firstProducts;
  process.kill(-npm.pid!, 'SIGINT');
  await exited;
  return marks.sort((a, b) => a.at - b.at);
}

function printTable(runs: Array<[string, Mark[]]>): void {
  const labels: string[] = [];
  for (const [, marks] of runs) {
    for (const mark of marks) if (!labels.includes(mark.label)) labels.push(mark.label);
  }
  const width = Math.max(...labels.map((label) => label.length));
  const column = 12;
  const row = (cells: string[]) =>
    `${cells[0]!.padEnd(width)}${cells
      .slice(1)
      .map((c) => c.padStart(column))
      .join('')}\n`;
  process.stdout.write(row(['phase ends', ...runs.map(([name]) => name)]));
  for (const label of labels) {
    process.stdout.write(
      row([
        label,
        ...runs.map(([, marks]) => {
          const mark = marks.find((m) => m.label === label);
          return mark ? mark.at.toFixed(1) : '-';
        }),
      ]),
    );
  }
}

function git(args: string[], cwd: string): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

await main();
