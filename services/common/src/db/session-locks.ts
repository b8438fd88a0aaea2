import pg from 'pg';
import type { Logger } from '../log/logger.js';
import { AppError } from '../errors/app-error.js';
import { fromPostgresError } from '../errors/postgres.js';

/**
 * Named locks that live as long as this process: session-level Postgres advisory locks taken on
 * one dedicated connection (outside the knex pool: a pooled connection goes back to the pool and
 * to other work with its session locks still on it). When the process dies, Postgres ends that
 * session and every lock it held is free at once, so another process finds out "the holder is
 * gone" by taking the lock, never by waiting out a timeout.
 *
 * Locks are tried, never waited for (`pg_try_advisory_lock`): a wait would stall every other
 * lock of the process queued behind it on the one connection. Names are hashed to Postgres's
 * bigint lock keys (`hashtextextended`); two names that share a hash (1 in 2^64) only make one
 * wait for the other, never let one take the other's. Postgres advisory locks are re-entrant
 * within a session, so this process keeps its own set of held names and refuses a name it holds
 * already: two requests of one process never both "get" a lock.
 *
 * If the connection is lost (Postgres restarted, the network), its locks are gone with it; the
 * next connection re-takes every lock still held here that nobody else took meanwhile. Whoever
 * relies on these locks must therefore also fence its writes (a token in the row it guards): a
 * holder whose lock lapsed may have been taken over.
 */
export interface SessionLocks {
  /**
   * Takes the lock `name` for this process: false when another process holds it, or this one.
   * Rejects with the kit's `database_unavailable` (or `database_timeout`) when Postgres cannot
   * be asked.
   */
  tryLock(name: string): Promise<boolean>;
  /** Gives `name` up (nothing when not held). */
  unlock(name: string): Promise<void>;
  /** Ends the session: every lock it holds is released. */
  close(): Promise<void>;
}

export interface SessionLocksOptions {
  url: string;
  log: Logger;
  /** Application name shown in pg_stat_activity (and so beside its locks in pg_locks). */
  name?: string;
  /**
   * How long Postgres waits on a silent TCP peer before probing it (then every 5 s, 3 times):
   * a host that vanished without closing its connection frees its locks within about this plus
   * 15 s, not the operating system's two hours. Default 10 s.
   */
  keepaliveIdleSeconds?: number;
  connectTimeoutMs?: number;
}

interface HeldLock {
  /** `pending` while being taken; `orphaned` once its session was lost, until re-taken. */
  state: 'pending' | 'held' | 'orphaned';
  session?: pg.Client;
}

const tryLockSql = 'select pg_try_advisory_lock(hashtextextended($1, 0)) as got';
const unlockSql = 'select pg_advisory_unlock(hashtextextended($1, 0))';

async function tryOn(client: pg.Client, name: string): Promise<boolean> {
  const result = await client.query<{ got: boolean }>(tryLockSql, [name]);
  return result.rows[0]?.got === true;
}

/** Opens the lock session lazily, on the first lock. */
export function openSessionLocks({
  url,
  log,
  name,
  keepaliveIdleSeconds = 10,
  connectTimeoutMs = 5_000,
}: SessionLocksOptions): SessionLocks {
  const held = new Map<string, HeldLock>();
  let current: pg.Client | undefined;
  let opening: Promise<pg.Client> | undefined;
  let closed = false;

  function lost(client: pg.Client, error?: Error) {
    if (current !== client) return;
    current = undefined;
    opening = undefined;
    client.end().catch(() => undefined);
    let orphaned = 0;
    for (const lock of held.values()) {
      if (lock.state === 'held' && lock.session === client) {
        lock.state = 'orphaned';
        delete lock.session;
        orphaned++;
      }
    }
    if (closed) return;
    log.warn(
      { held: orphaned, err: error ? { message: error.message } : undefined },
      'lock session lost; its locks are released',
    );
    if (orphaned > 0) connected().catch(() => undefined);
  }

  async function open(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: url,
      ...(name ? { application_name: name } : {}),
      connectionTimeoutMillis: connectTimeoutMs,
      keepAlive: true,
      statement_timeout: 5_000,
      // Server side: notice a vanished client soon (see keepaliveIdleSeconds); and never end
      // this session for idling, which would free its locks under a live process.
      options: `-c tcp_keepalives_idle=${keepaliveIdleSeconds} -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 -c idle_session_timeout=0`,
    });
    client.on('error', function onLockSessionError(error) {
      lost(client, error);
    });
    client.on('end', function onLockSessionEnd() {
      lost(client);
    });
    await client.connect();
    if (closed) {
      await client.end().catch(() => undefined);
      throw new Error('lock session closed');
    }
    current = client;
    let retaken = 0;
    let takenByOthers = 0;
    for (const [lockName, lock] of held) {
      if (lock.state !== 'orphaned') continue;
      if (await tryOn(client, lockName)) {
        if (held.get(lockName) === lock && lock.state === 'orphaned') {
          lock.state = 'held';
          lock.session = client;
          retaken++;
        } else {
          // Given up while it was being re-taken.
          await client.query(unlockSql, [lockName]);
        }
      } else {
        takenByOthers++;
      }
    }
    if (retaken + takenByOthers > 0) {
      log.warn({ retaken, takenByOthers }, 'lock session reopened; its locks re-taken');
    }
    return client;
  }

  function connected(): Promise<pg.Client> {
    if (closed) return Promise.reject(new Error('lock session closed'));
    if (!opening) {
      const attempt = open();
      opening = attempt;
      attempt.catch(function openFailed() {
        if (opening === attempt) opening = undefined;
      });
    }
    return opening;
  }

  return {
    async tryLock(lockName) {
      if (held.has(lockName)) return false;
      const lock: HeldLock = { state: 'pending' };
      held.set(lockName, lock);
      try {
        const client = await connected();
        const got = await tryOn(client, lockName);
        if (!got) {
          held.delete(lockName);
          return false;
        }
        if (current === client) {
          lock.state = 'held';
          lock.session = client;
        } else {
          // The session was lost while the answer came back: the lock went with it.
          lock.state = 'orphaned';
          connected().catch(() => undefined);
        }
        return true;
      } catch (error) {
        if (held.get(lockName) === lock) held.delete(lockName);
        // Whatever failed (no connection, a session lost under the query), the lock is not taken
        // and the database is what is missing: 503 for the request, which may be retried.
        throw fromPostgresError(error) ?? new AppError('database_unavailable', { cause: error });
      }
    },
    async unlock(lockName) {
      const lock = held.get(lockName);
      if (!lock) return;
      // Forgotten first: a later tryLock of the same name from this process is queued on the
      // connection after this unlock (node-postgres runs one client's queries in order).
      held.delete(lockName);
      if (lock.state !== 'held' || !lock.session || lock.session !== current) return;
      await lock.session.query(unlockSql, [lockName]).catch(function unlockFailed(error: Error) {
        log.warn({ err: { message: error.message } }, 'lock not released; the session ends it');
      });
    },
    async close() {
      closed = true;
      held.clear();
      const client = current;
      current = undefined;
      opening = undefined;
      if (client) await client.end().catch(() => undefined);
    },
  };
}
