import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { isAlive, readState, runningLauncher, waitForExit, writeState } from './local-state.js';
import { startPostgres } from './postgres.js';

/** The Postgres server every service database lives on in local runs. */
export interface DatabaseServer {
  /** Server URL (database `postgres`); `databaseUrl()` from postgres.ts points it at one database. */
  url: string;
  /** For people: where the server is, without its password. */
  description: string;
  /** `embedded`: started here; `external`: DATABASE_URL; `shared`: the embedded one a running launcher owns. */
  kind: 'embedded' | 'external' | 'shared';
  /** False once an embedded server has died; always true for servers this process does not own. */
  isAlive(): boolean;
  /** Stops an embedded server this process started; a no-op otherwise. */
  stop(): Promise<void>;
}

export interface OpenDatabaseOptions {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  password: string;
  /** Receives Postgres's own lines worth showing (warnings and errors, or all with `verbose`). */
  log: (line: string) => void;
  verbose?: boolean;
  /** Use the embedded server of a launcher already running on `dataDir` instead of refusing. */
  shareRunning?: boolean;
}

export const postgresDirectoryName = 'postgres';

/**
 * DATABASE_URL (a server URL) when it is set; otherwise the embedded Postgres in
 * `<dataDir>/postgres`, started on a port that stays the same from one run to the next.
 */
export async function openDatabaseServer(options: OpenDatabaseOptions): Promise<DatabaseServer> {
  const external = options.env.DATABASE_URL;
  if (external) return externalServer(external);

  const pgDir = path.join(options.dataDir, postgresDirectoryName);
  const running = await readPostmaster(pgDir);
  if (running && isAlive(running.pid)) {
    if (options.shareRunning && (await runningLauncher(options.dataDir)) !== undefined) {
      return sharedServer(running.port, options.password);
    }
    // A launcher that was killed outright leaves its Postgres behind; stop it as Postgres would
    // be stopped normally (SIGINT: fast shutdown) before starting ours on the same directory.
    options.log(`stopping a Postgres left running by an earlier run (pid ${running.pid})`);
    process.kill(running.pid, 'SIGINT');
    if (!(await waitForExit(running.pid, 15_000))) {
      throw new Error(
        `the Postgres left running (pid ${running.pid}) did not stop; stop it and retry`,
      );
    }
  }

  const port = await choosePort(options);
  const important = /\b(WARNING|ERROR|FATAL|PANIC)\b/;
  const onLog = (text: string) => {
    for (const line of text.split('\n')) {
      if (line.trim() && (options.verbose || important.test(line))) options.log(line);
    }
  };
  let started: Awaited<ReturnType<typeof startPostgres>>;
  try {
    started = await startPostgres({
      dataDir: pgDir,
      port,
      password: options.password,
      persistent: true,
      onLog,
    });
  } catch (error) {
    // Its own lines worth showing are above; the reason is one line.
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`the embedded Postgres did not start on port ${port}: ${reason}`, {
      cause: error,
    });
  }
  const where =
    started.clusterDir === pgDir ? pgDir : `${started.clusterDir} (linked from ${pgDir})`;
  return {
    url: started.url,
    description: `embedded Postgres on 127.0.0.1:${port}, data in ${where}`,
    kind: 'embedded',
    isAlive: () => started.isAlive(),
    stop: () => started.stop(),
  };
}

function externalServer(value: string): DatabaseServer {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('DATABASE_URL is not a URL (expected postgres://user:password@host:port/)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`DATABASE_URL must be a postgres:// URL, not ${url.protocol}//`);
  }
  return {
    url: value,
    description: `Postgres at ${url.hostname}:${url.port || 5432} (DATABASE_URL)`,
    kind: 'external',
    isAlive: () => true,
    stop: () => Promise.resolve(),
  };
}

function sharedServer(port: number, password: string): DatabaseServer {
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    description: `the embedded Postgres of the running launcher on 127.0.0.1:${port}`,
    kind: 'shared',
    isAlive: () => true,
    stop: () => Promise.resolve(),
  };
}

/**
 * MERCADO_PG_PORT when set; otherwise the port stored by an earlier run, or a free one that is
 * then stored. A stored port another program has taken since is replaced, and the change stored.
 */
async function choosePort({ env, dataDir, log }: OpenDatabaseOptions): Promise<number> {
  if (env.MERCADO_PG_PORT) {
    const port = Number(env.MERCADO_PG_PORT);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`MERCADO_PG_PORT must be a port number, not ${env.MERCADO_PG_PORT}`);
    }
    return port;
  }
  const state = await readState(dataDir);
  if (state.postgresPort && (await isPortFree(state.postgresPort))) return state.postgresPort;
  const port = await freePort();
  if (state.postgresPort) log(`port ${state.postgresPort} is taken now; Postgres moves to ${port}`);
  await writeState(dataDir, { ...state, postgresPort: port });
  return port;
}

export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return (await listenOnce(port, host)) !== undefined;
}

/**
 * A port free on 127.0.0.1 now, from the kernel. The kit's testing export has the same for tests;
 * the launcher does not load that export (and all it brings) on its way to a first answer.
 */
export async function freePort(): Promise<number> {
  const port = await listenOnce(0, '127.0.0.1');
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

/** Listens on the port and closes at once: the port it got, or undefined when that one is taken. */
function listenOnce(port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, host, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

/** Postgres's lock file: line 1 is the postmaster's pid, line 4 its port. */
async function readPostmaster(pgDir: string): Promise<{ pid: number; port: number } | undefined> {
  const file = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const lines = (await readFile(file, 'utf8').catch(() => '')).split('\n');
  const pid = Number.parseInt(lines[0] ?? '', 10);
  const port = Number.parseInt(lines[3] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? { pid, port } : undefined;
}
