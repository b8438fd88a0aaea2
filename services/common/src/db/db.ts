import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { isSerializationFailure } from '../errors/postgres.js';

export type { Knex } from 'knex';

function parseInt8(value: string): number {
  return Number.parseInt(value, 10);
}

/**
 * The type parsers of the kit's connections, and of no other: node-postgres returns int8 as a
 * string (it can exceed 2^53), and `pg.types.setTypeParser` would change that for every pg user in
 * the process. Mercado's int8 columns are counts and ids far below 2^53 (money is int8 minor units,
 * below it by a wide margin), so on the kit's connections they are numbers.
 */
const kitTypeParsers: Knex.PgCustomTypesConfig = {
  getTypeParser(oid: number, format: string) {
    if (oid === pg.types.builtins.INT8 && format !== 'binary') return parseInt8;
    return pg.types.getTypeParser(oid, format === 'binary' ? 'binary' : 'text');
  },
};

export interface DbOptions {
  url: string;
  poolMax?: number;
  log: Logger;
  metrics?: Metrics;
  /** Application name shown in pg_stat_activity. */
  name?: string;
  /**
   * Postgres cancels any statement running longer (`statement_timeout`, SQLSTATE 57014, which the
   * kit's errors translate to `database_timeout`). Default 30 s; 0 leaves the server's own setting
   * (off unless configured there). Migrations run without it.
   */
  statementTimeoutMs?: number;
  /**
   * Postgres ends the session of a transaction left idle longer
   * (`idle_in_transaction_session_timeout`, SQLSTATE 25P03), so a transaction held open across a
   * publish or a call that hangs cannot keep its locks. Default 60 s; 0 as above.
   */
  idleInTransactionTimeoutMs?: number;
}

/**
 * Creates the process's one knex instance. Every connection it opens gets the kit's type parsers
 * (int8 as a number) and the statement and idle-in-transaction timeouts, sent in the startup
 * packet (no extra round trip). It listens for errors on idle pool clients (an unhandled one would
 * crash the process), times every query without ever logging its bindings, and is closed with
 * `db.destroy()` on shutdown.
 */
export function createDb({
  url,
  poolMax = 10,
  log,
  metrics,
  name,
  statementTimeoutMs = 30_000,
  idleInTransactionTimeoutMs = 60_000,
}: DbOptions): Knex {
  const db = knexFactory({
    client: 'pg',
    connection: {
      connectionString: url,
      ...(name ? { application_name: name } : {}),
      types: kitTypeParsers,
      // node-postgres leaves a 0 out of the startup packet: the server's own setting applies.
      statement_timeout: statementTimeoutMs,
      idle_in_transaction_session_timeout: idleInTransactionTimeoutMs,
    },
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
    // knex's own warnings (a connection that ended, a deprecation) as log lines, not console text.
    log: {
      warn: (message: unknown) => log.warn({ source: 'knex' }, String(message)),
      error: (message: unknown) => log.error({ source: 'knex' }, String(message)),
      deprecate: (method: unknown, alternative: unknown) =>
        log.warn({ source: 'knex' }, `${String(method)} is deprecated: use ${String(alternative)}`),
      debug: (message: unknown) => log.debug({ source: 'knex' }, String(message)),
    },
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
      // Each migration runs in its own transaction: SET LOCAL lifts the connection's timeouts for
      // it alone (building an index on a large table may take longer than any request should).
      up: (knex: Knex) => knex.raw(`${withoutTimeouts('local')}\n${sql}`),
      down: () => {
        throw new Error(`${migration.name}: migrations are forward-only; write a new one`);
      },
    };
  }
}

/** Turns both connection timeouts off, for the transaction (`local`) or the session. */
function withoutTimeouts(scope: 'local' | 'session'): string {
  return `set ${scope} statement_timeout = 0; set ${scope} idle_in_transaction_session_timeout = 0;`;
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
  const onLockConnection = (sql: string, bindings: readonly number[] = []) =>
    (db.raw(sql, bindings) as Knex.Raw & { connection(c: unknown): Knex.Raw }).connection(
      connection,
    );
  try {
    // Waiting for another replica's migrations may take longer than any statement should.
    await onLockConnection(withoutTimeouts('session'));
    await onLockConnection('select pg_advisory_lock(?)', [migrationLockKey]);
    const [, applied] = (await db.migrate.latest({
      migrationSource: new SqlMigrationSource(directory),
    })) as [number, string[]];
    return applied;
  } finally {
    await onLockConnection('select pg_advisory_unlock(?)', [migrationLockKey]).catch(
      () => undefined,
    );
    // Back to the values the connection started with, before it returns to the pool.
    await onLockConnection(
      'reset statement_timeout; reset idle_in_transaction_session_timeout',
    ).catch(() => undefined);
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
