import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { matchesIfNoneMatch } from '@mercado/common/http';

export interface MicroCacheSettings {
  /** How long a response is reused at most (the service's max-age caps it further); 0 = off. */
  ttlMs: number;
  maxEntries: number;
  maxBodyBytes: number;
  /** The clock entries expire by (epoch ms); tests pass one they move by hand. */
  now?: () => number;
}

interface Entry {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  etag: string | undefined;
  storedAt: number;
  expiresAt: number;
}

/** Headers that describe one connection or one request, never a stored response. */
const notStored = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'x-request-id',
  'date',
  'age',
  'set-cookie',
]);

function maxAgeMs(cacheControl: string): number | undefined {
  const directives = cacheControl.toLowerCase();
  if (!/(^|,)\s*public\s*(,|$)/.test(directives)) return undefined;
  if (/no-store|no-cache|private/.test(directives)) return undefined;
  const match = /(?:^|,)\s*(?:s-maxage|max-age)=(\d+)/.exec(directives);
  return match ? Number(match[1]) * 1000 : undefined;
}

/**
 * A micro-cache for anonymous public reads (the catalog): a response the service marked
 * `Cache-Control: public, max-age=N` is kept for at most `ttlMs` and answered from memory, so a
 * burst of shoppers on the same listing costs the service one request per `ttlMs`. Anything with
 * a token, a cookie, a cart token, `private`/`no-store`, a status other than 200, or a large body
 * is never kept.
 * A browser or CDN may keep such a response for N seconds anyway; the gateway keeps it far less.
 */
export class MicroCache {
  readonly #settings: MicroCacheSettings;
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(settings: MicroCacheSettings) {
    this.#settings = settings;
    this.#now = settings.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#settings.ttlMs > 0;
  }

  /** The cache key of a request that may be answered from the cache, else undefined. */
  keyOf(req: Request): string | undefined {
    if (!this.enabled || (req.method !== 'GET' && req.method !== 'HEAD')) return undefined;
    // Whoever the request speaks for (a token, a cookie, a guest's cart) gets an answer of its own.
    const { authorization, cookie } = req.headers;
    if (
      authorization !== undefined ||
      cookie !== undefined ||
      req.headers['cart-token'] !== undefined
    ) {
      return undefined;
    }
    return req.originalUrl;
  }

  /**
   * Answers from the cache when a fresh entry exists; returns whether it did. A client that asks
   * for a fresh answer (`Cache-Control: no-cache`, RFC 9111 §5.2.1.4) reaches the service.
   */
  serve(key: string, req: Request, res: Response, now = this.#now()): boolean {
    if (/no-cache|max-age=0/.test(String(req.headers['cache-control'] ?? ''))) return false;
    const entry = this.#entries.get(key);
    if (!entry) return false;
    if (entry.expiresAt <= now) {
      this.#entries.delete(key);
      return false;
    }
    for (const [name, value] of Object.entries(entry.headers)) res.setHeader(name, value);
    res.setHeader('Age', String(Math.floor((now - entry.storedAt) / 1000)));
    res.setHeader('X-Cache', 'HIT');
    if (entry.etag !== undefined && matchesIfNoneMatch(req.headers['if-none-match'], entry.etag)) {
      res.removeHeader('content-length');
      res.removeHeader('content-type');
      res.status(304).end();
      return true;
    }
    res.status(entry.status);
    if (req.method === 'HEAD') res.end();
    else res.end(entry.body);
    return true;
  }

  /** Keeps the service's answer while it streams to the client, when it may be kept. */
  capture(key: string, proxyRes: IncomingMessage, now = this.#now()): void {
    if (proxyRes.statusCode !== 200 || proxyRes.headers['set-cookie'] !== undefined) return;
    const declared = maxAgeMs(String(proxyRes.headers['cache-control'] ?? ''));
    if (declared === undefined || declared <= 0) return;
    const vary = String(proxyRes.headers.vary ?? '').toLowerCase();
    if (vary.includes('authorization') || vary.includes('cookie') || vary === '*') return;
    const ttl = Math.min(declared, this.#settings.ttlMs);
    const chunks: Buffer[] = [];
    const limit = this.#settings.maxBodyBytes;
    let size = 0;
    proxyRes.on('data', function keepChunk(chunk: Buffer) {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    proxyRes.once('end', () => {
      if (size > limit || !proxyRes.complete) return;
      this.#store(key, {
        status: 200,
        headers: storable(proxyRes.headers),
        body: Buffer.concat(chunks),
        etag: typeof proxyRes.headers.etag === 'string' ? proxyRes.headers.etag : undefined,
        storedAt: now,
        expiresAt: now + ttl,
      });
    });
  }

  #store(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    // Oldest first: a Map iterates in insertion order, so the first key is the least recent.
    while (this.#entries.size > this.#settings.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}

function storable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !notStored.has(name)) kept[name] = value;
  }
  return kept;
}
