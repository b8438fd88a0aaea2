import pg from 'pg';
import type { Logger } from '../log/logger.js';

/**
 * Tells a process when data it may have cached has changed in Postgres, in any replica or by any
 * writer: a trigger in the database runs `pg_notify(channel)` and every replica LISTENs on one
 * dedicated connection (outside the knex pool, which would otherwise lose a slot for good).
 *
 * Caches use the generation, not the notifications: an answer computed from a read that began at
 * generation G may be stored only while the generation is still G, so a read that raced a write is
 * never kept. While the connection is down nothing can be cached (a change would go unnoticed),
 * and a reconnect starts a new generation, since notifications sent meanwhile are lost.
 */
export interface ChangeFeed {
  /** Moves on whenever the data may have changed, or a change may have been missed. */
  readonly generation: number;
  /** True while listening: only then may anything be cached. */
  readonly live: boolean;
  /**
   * For a keyed feed (see ChangeFeedOptions.keyed): moves on whenever the data of `key` may have
   * changed. An answer about one key stays good while both this and `generation` stand still.
   * Always 0 on a feed that is not keyed.
   */
  keyGeneration(key: string): number;
  /**
   * Called by this process after its own write commits, so it reads its writes at once (its
   * notification arrives a moment later, maybe after the response to the writer). With `keys`
   * (keyed feeds), only those keys moved on; without, everything did.
   */
  changed(keys?: Iterable<string>): void;
  /** Settles once the first LISTEN is in place (or the feed is closed). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export interface ChangeFeedOptions {
  url: string;
  /** A plain lower-case identifier, the channel the database's trigger notifies. */
  channel: string;
  log: Logger;
  /** Application name shown in pg_stat_activity. */
  name?: string;
  /**
   * Notifications name what changed: the payload is a key (a product id, say), and only that
   * key's generation moves on; an empty payload moves everything on. Without it, every
   * notification moves everything on (whatever its payload).
   */
  keyed?: boolean;
  /**
   * A keyed feed remembers a generation per key it heard of; past this many keys it forgets them
   * all and moves everything on instead (answers are recomputed once, memory stays bounded).
   */
  maxKeys?: number;
  /** First reconnect delay; it doubles up to 5 s. */
  retryMs?: number;
  /**
   * Called on every notification, and each time LISTEN is (re)established, since notifications
   * sent while not listening are lost: for work that is woken by changes rather than caching.
   */
  onChange?: () => void;
}

const channelPattern = /^[a-z_][a-z0-9_]{0,62}$/;
const maxRetryMs = 5_000;

/** Starts listening (in the background: `live` turns true once LISTEN is in place). */
export function listenForChanges({
  url,
  channel,
  log,
  name,
  retryMs = 100,
  onChange,
  keyed = false,
  maxKeys = 100_000,
}: ChangeFeedOptions): ChangeFeed {
  if (!channelPattern.test(channel)) throw new Error(`not a channel name: ${channel}`);
  let generation = 0;
  const keyGenerations = new Map<string, number>();
  const keyChanged = (key: string) => {
    if (key === '') {
      generation++;
      return;
    }
    if (!keyGenerations.has(key) && keyGenerations.size >= maxKeys) {
      keyGenerations.clear();
      generation++;
      return;
    }
    keyGenerations.set(key, (keyGenerations.get(key) ?? 0) + 1);
  };
  let live = false;
  let closed = false;
  let client: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let delay = retryMs;
  let resolveReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));

  const lost = (current: pg.Client, error?: Error) => {
    if (client !== current) return;
    client = undefined;
    live = false;
    generation++;
    current.removeAllListeners('notification');
    current.end().catch(() => undefined);
    if (closed) return;
    log.warn(
      { channel, retryInMs: delay, err: error ? { message: error.message } : undefined },
      'change feed lost its connection; caching paused',
    );
    retryTimer = setTimeout(connect, delay);
    retryTimer.unref();
    delay = Math.min(delay * 2, maxRetryMs);
  };

  async function connect() {
    retryTimer = undefined;
    const current = new pg.Client({
      connectionString: url,
      ...(name ? { application_name: name } : {}),
    });
    client = current;
    current.on('error', function onChangeFeedError(error) {
      lost(current, error);
    });
    current.on('end', function onChangeFeedEnd() {
      lost(current);
    });
    current.on('notification', function onNotification(message: pg.Notification) {
      if (keyed) keyChanged(message.payload ?? '');
      else generation++;
      onChange?.();
    });
    try {
      await current.connect();
      await current.query(`listen ${channel}`);
    } catch (error) {
      lost(current, error as Error);
      return;
    }
    if (client !== current || closed) return;
    // Whatever was cached before may have missed notifications sent while not listening.
    generation++;
    live = true;
    delay = retryMs;
    resolveReady();
    onChange?.();
  }

  void connect();

  return {
    get generation() {
      return generation;
    },
    get live() {
      return live;
    },
    keyGeneration(key: string) {
      return keyGenerations.get(key) ?? 0;
    },
    changed(keys?: Iterable<string>) {
      if (!keyed || keys === undefined) {
        generation++;
        return;
      }
      for (const key of keys) keyChanged(key);
    },
    async close() {
      closed = true;
      live = false;
      generation++;
      resolveReady();
      if (retryTimer) clearTimeout(retryTimer);
      const current = client;
      client = undefined;
      if (current) await current.end().catch(() => undefined);
    },
    ready,
  };
}
