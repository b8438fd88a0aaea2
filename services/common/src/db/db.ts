import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { isSerializationFailure } from '../errors/postgres.js';

export type { Knex } from 'knex';

// node-postgres returns int8 and numeric as strings (they can exceed 2^53). Mercado's int8 columns
// are counts and ids that stay far below that, so they are parsed as numbers; money is int8 minor
// units, below 2^53 by a wide margin.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number.parseInt(value, 10));

export interface DbOptions {
  url: string;
  poolMax?: number;
  log: Logger;
  metrics?: Metrics;
  /** Application name shown in pg_stat_activity. */
  name?: string;
}

/**
 * Creates the process's one knex instance. It listens for errors on idle pool clients (an unhandled
 * one would crash the process), times every query without ever logging its bindings, and is closed
 * with `db.destroy()` on shutdown.
 */
export function createDb({ url, poolMax = 10, log, metrics, name }: DbOptions): Knex {
  const db = knexFactory({
    client: 'pg',
    connection: { connectionString: url, ...(name ? { application_name: name } : {}) },
    pool: {
      min: 0,
      max: poolMax,
      afterCreate(
        connection: pg.Client,
        done: (error: Error | null, connection: pg.Client) => void,
      ) {
        connection.on('error', function onIdleClientError(error) {
          log.error(
            { err: { message: error.message, code: (error as { code?: string }).code } },
            'database connection error',
          );
        });
        done(null, connection);
      },
    },
    acquireConnectionTimeout: 10_000,
  });

  if (metrics) {
    const started = new Map<string, bigint>();
    db.on('query', function onQuery(query: { __knexQueryUid: string }) {
      started.set(query.__knexQueryUid, process.hrtime.bigint());
    });
    const finish = (uid: string, outcome: 'ok' | 'error') => {
      const start = started.get(uid);
      if (start === undefined) return;
      started.delete(uid);
      metrics.dbQueryDuration.observe({ outcome }, Number(process.hrtime.bigint() - start) / 1e9);
    };
    db.on(
      'query-response',
      function onQueryResponse(_response: unknown, query: { __knexQueryUid: string }) {
        finish(query.__knexQueryUid, 'ok');
      },
    );
    db.on(
      'query-error',
      function onQueryError(error: { code?: string }, query: { __knexQueryUid: string }) {
        metrics.dbErrors.inc({ code: error.code ?? 'unknown' });
        finish(query.__knexQueryUid, 'error');
      },
    );
  }
  return db;
}

export interface TransactionOptions {
  isolationLevel?: Knex.IsolationLevels;
  /** How many times a serialization failure or deadlock is retried before it is raised. */
  retries?: number;
}

/**
 * Runs `work` in one transaction and returns its result. A serialization failure or deadlock
 * (SQLSTATE 40001/40P01) rolls back and reruns `work` from the start, so `work` must not have side
 * effects outside the transaction.
 */
export async function withTransaction<T>(
  db: Knex,
  work: (trx: Knex.Transaction) => Promise<T>,
  { isolationLevel, retries = 3 }: TransactionOptions = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction(work, isolationLevel ? { isolationLevel } : {});
    } catch (error) {
      if (attempt >= retries || !isSerializationFailure(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt * Math.random()));
    }
  }
}

interface SqlMigration {
  name: string;
  file: string;
}

/**
 * A knex migration source over a folder of plain `.sql` files (`0001_init.sql`, ...), applied in
 * name order, each in its own transaction. Knex keeps its bookkeeping table and lock, so several
 * replicas starting at once apply each migration exactly once.
 */
export class SqlMigrationSource implements Knex.MigrationSource<SqlMigration> {
  constructor(private readonly directory: string) {}

  async getMigrations(): Promise<SqlMigration[]> {
    const files = (await readdir(this.directory)).filter((file) => file.endsWith('.sql')).sort();
    return files.map((file) => ({ name: file, file: path.join(this.directory, file) }));
  }

  getMigrationName(migration: SqlMigration): string {
    return migration.name;
  }

  async getMigration(migration: SqlMigration): Promise<Knex.Migration> {
    const sql = await readFile(migration.file, 'utf8');
    return {
      up: (knex: Knex) => knex.raw(sql),
      down: () => {
        throw new Error(`${migration.name}: migrations are forward-only; write a new one`);
      },
    };
  }
}

/** Advisory-lock key for migrations (advisory locks are per database; any constant will do). */
const migrationLockKey = 7_420_316;

/**
 * Applies every pending migration in `directory`; returns the names applied. Replicas starting at
 * the same moment take turns on a Postgres advisory lock: knex's own lock table cannot protect
 * the very first run, when its bookkeeping tables are created (seen here: three replicas racing
 * on a fresh database all failed).
 */
export async function migrate(db: Knex, directory: string): Promise<string[]> {
  const connection: unknown = await db.client.acquireConnection();
  const onLockConnection = (sql: string) =>
    (db.raw(sql, [migrationLockKey]) as Knex.Raw & { connection(c: unknown): Knex.Raw }).connection(
      connection,
    );
  try {
    await onLockConnection('select pg_advisory_lock(?)');
    const [, applied] = (await db.migrate.latest({
      migrationSource: new SqlMigrationSource(directory),
    })) as [number, string[]];
    return applied;
  } finally {
    await onLockConnection('select pg_advisory_unlock(?)').catch(() => undefined);
    await db.client.releaseConnection(connection);
  }
}

/** `SELECT 1` with a deadline: the readiness check of anything that owns a database. */
export async function pingDb(db: Knex, timeoutMs = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      db.raw('select 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('database ping timed out')), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
