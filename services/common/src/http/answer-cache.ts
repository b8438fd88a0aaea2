import type { Request, RequestHandler, Response } from 'express';
import { Counter, type Registry } from 'prom-client';
import type { ChangeFeed } from '../db/change-feed.js';
import { entityTag, matchesIfNoneMatch } from './conditional.js';

interface StoredAnswer {
  body: Buffer;
  etag: string;
  cacheControl: string;
  generation: number;
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

  /** The generation a read starts under, or undefined when its answer may not be kept. */
  begin(): number | undefined {
    return this.#feed.live ? this.#feed.generation : undefined;
  }

  get(key: string): StoredAnswer | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (!this.#feed.live || entry.generation !== this.#feed.generation) {
      this.#delete(key, entry);
      return undefined;
    }
    // Most recently used last.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, generation: number, answer: Omit<StoredAnswer, 'generation'>): void {
    if (!this.#feed.live || generation !== this.#feed.generation) return;
    if (answer.body.length > this.#maxBytes) return;
    const previous = this.#entries.get(key);
    if (previous) this.#delete(key, previous);
    this.#entries.set(key, { ...answer, generation });
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
  generation: number | undefined;
}

const pending = new WeakMap<Response, PendingAnswer>();

/**
 * A route's first handler: answers a GET or HEAD from the cache (keyed by the whole URL, query
 * included), else notes the generation the read starts under and lets the route compute it.
 */
export function answerFromCache(cache: AnswerCache): RequestHandler {
  return function answerFromCacheHandler(req, res, next) {
    const key = req.originalUrl;
    const stored = cache.get(key);
    if (stored) {
      cache.counted('hit');
      sendAnswer(req, res, stored.body, stored.etag, stored.cacheControl);
      return;
    }
    cache.counted('miss');
    pending.set(res, { cache, key, generation: cache.begin() });
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
  if (read && read.generation !== undefined && /^public\b/.test(cacheControl)) {
    read.cache.set(read.key, read.generation, { body: bytes, etag, cacheControl });
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
