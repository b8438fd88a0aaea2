import type { Request, RequestHandler, Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import { listenForChanges, type ChangeFeed } from '../db/change-feed.js';
import type { Logger } from '../log/logger.js';
import { entityTag, matchesIfNoneMatch } from './conditional.js';

interface StoredAnswer {
  body: Buffer;
  etag: string;
  cacheControl: string;
  generation: number;
  /** The key of a keyed feed the answer is about (see answerFromCache's `scopeOf`), and its
   * generation when the read began. */
  scope?: string | undefined;
  scopeGeneration?: number;
}

/** Where a read started: the generations its answer must still match to be kept. */
export interface ReadStart {
  generation: number;
  scope?: string | undefined;
  scopeGeneration?: number;
}

export interface AnswerCacheOptions {
  /** Says when the data behind the answers changed; entries of an older generation are dead. */
  feed: ChangeFeed;
  maxEntries?: number;
  maxBytes?: number;
  /** Counts hits and misses as `answer_cache_lookups_total{outcome}`. */
  registry?: Registry;
}

/**
 * The rendered answers (JSON bytes and ETag) of public reads, kept in memory until the data behind
 * them changes: a coherent cache, not a freshness window. An answer is stored only if no change
 * was seen between the start of the read and its end (see ChangeFeed), and served only while its
 * generation is current, so it is what the database would give, to within the moment a change
 * notification takes to arrive from another replica. Least recently used entries go first past
 * `maxEntries` or `maxBytes`.
 */
export class AnswerCache {
  readonly #feed: ChangeFeed;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #entries = new Map<string, StoredAnswer>();
  readonly #lookups: Counter<'outcome'> | undefined;
  #bytes = 0;

  constructor({
    feed,
    maxEntries = 2_000,
    maxBytes = 32 * 1024 * 1024,
    registry,
  }: AnswerCacheOptions) {
    this.#feed = feed;
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
    this.#lookups = registry
      ? new Counter({
          name: 'answer_cache_lookups_total',
          help: 'Public reads answered from the in-memory answer cache (hit) or computed (miss)',
          labelNames: ['outcome'],
          registers: [registry],
        })
      : undefined;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The generations a read starts under, or undefined when its answer may not be kept. `scope`
   * is the key of a keyed feed the answer is about: only a change of that key (or of everything)
   * retires it.
   */
  begin(scope?: string): ReadStart | undefined {
    if (!this.#feed.live) return undefined;
    return scope === undefined
      ? { generation: this.#feed.generation }
      : {
          generation: this.#feed.generation,
          scope,
          scopeGeneration: this.#feed.keyGeneration(scope),
        };
  }

  #current(entry: ReadStart): boolean {
    return (
      this.#feed.live &&
      entry.generation === this.#feed.generation &&
      (entry.scope === undefined || entry.scopeGeneration === this.#feed.keyGeneration(entry.scope))
    );
  }

  get(key: string): StoredAnswer | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (!this.#current(entry)) {
      this.#delete(key, entry);
      return undefined;
    }
    // Most recently used last.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  set(
    key: string,
    start: ReadStart,
    answer: Omit<StoredAnswer, 'generation' | 'scope' | 'scopeGeneration'>,
  ): void {
    if (!this.#current(start)) return;
    if (answer.body.length > this.#maxBytes) return;
    const previous = this.#entries.get(key);
    if (previous) this.#delete(key, previous);
    this.#entries.set(key, { ...answer, ...start });
    this.#bytes += answer.body.length;
    for (const [oldKey, oldest] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#delete(oldKey, oldest);
    }
  }

  counted(outcome: 'hit' | 'miss'): void {
    this.#lookups?.inc({ outcome });
  }

  #delete(key: string, entry: StoredAnswer): void {
    this.#entries.delete(key);
    this.#bytes -= entry.body.length;
  }
}

interface PendingAnswer {
  cache: AnswerCache;
  key: string;
  start: ReadStart | undefined;
}

const pending = new WeakMap<Response, PendingAnswer>();

/**
 * A route's first handler: answers a GET or HEAD from the cache (keyed by the whole URL, query
 * included), else notes the generation the read starts under and lets the route compute it.
 * `scopeOf` names the key of a keyed feed the answer is about (e.g. the product id of a stock
 * read), so that only a change of that key retires it.
 */
export function answerFromCache(
  cache: AnswerCache,
  scopeOf?: (req: Request) => string | undefined,
): RequestHandler {
  return function answerFromCacheHandler(req, res, next) {
    const key = req.originalUrl;
    const stored = cache.get(key);
    if (stored) {
      cache.counted('hit');
      sendAnswer(req, res, stored.body, stored.etag, stored.cacheControl);
      return;
    }
    cache.counted('miss');
    pending.set(res, { cache, key, start: cache.begin(scopeOf?.(req)) });
    next();
  };
}

/**
 * Sends a JSON body with an ETag and the given Cache-Control, or 304 without a body when the
 * client already holds it (RFC 9110 §15.4.5). A `public` answer (the same for every caller) to a
 * read that went through `answerFromCache` is kept for the next one.
 */
export function sendCacheableJson(
  req: Request,
  res: Response,
  body: unknown,
  cacheControl: string,
): void {
  const bytes = Buffer.from(JSON.stringify(body));
  const etag = entityTag(bytes);
  const read = pending.get(res);
  if (read?.start && /^public\b/.test(cacheControl)) {
    read.cache.set(read.key, read.start, { body: bytes, etag, cacheControl });
  }
  sendAnswer(req, res, bytes, etag, cacheControl);
}

function sendAnswer(req: Request, res: Response, body: Buffer, etag: string, cacheControl: string) {
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', cacheControl);
  if (matchesIfNoneMatch(req.headers['if-none-match'], etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** The settings of a service's answer cache (see answerCacheSettings in the config module). */
export interface AnswerCacheConfig {
  DATABASE_URL: string;
  ANSWER_CACHE_ENTRIES: number;
  ANSWER_CACHE_MAX_BYTES: number;
}

export interface ServiceAnswers {
  /** Where the service's answers are kept; hand it to its read routes (`answerFromCache`). */
  cache: AnswerCache;
  /** The change feed behind it: call `changed()` after the service's own writes commit. */
  feed: ChangeFeed;
  /** Stops listening (a shutdown step). */
  close(): Promise<void>;
}

/**
 * A service's answer cache in one call: listens on `channel` (which the service's triggers
 * notify on every committed change; `keyed` when the payload names what changed) and keeps
 * rendered answers until then. Undefined when ANSWER_CACHE_ENTRIES is 0.
 */
export function startAnswerCache({
  config,
  log,
  registry,
  channel,
  keyed = false,
  name,
}: {
  config: AnswerCacheConfig;
  log: Logger;
  registry?: Registry;
  channel: string;
  keyed?: boolean;
  /** Application name of the listening connection, shown in pg_stat_activity. */
  name: string;
}): ServiceAnswers | undefined {
  if (config.ANSWER_CACHE_ENTRIES === 0) return undefined;
  const feed = listenForChanges({ url: config.DATABASE_URL, channel, keyed, log, name });
  const cache = new AnswerCache({
    feed,
    maxEntries: config.ANSWER_CACHE_ENTRIES,
    maxBytes: config.ANSWER_CACHE_MAX_BYTES,
    ...(registry ? { registry } : {}),
  });
  return { cache, feed, close: () => feed.close() };
}
