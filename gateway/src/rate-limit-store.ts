import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import { Redis } from 'ioredis';
import type { Logger } from '@mercado/common/log';

/**
 * One fixed window per key, counted atomically in Redis: the first hit creates the key with the
 * window as its expiry, later hits only count. Returns the count and the milliseconds left.
 */
const hitScript = `
local hits = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return { hits, left }
`;

type CountingRedis = Redis & {
  mercadoRateLimitHit(key: string, windowMs: string): Promise<[number, number]>;
};

/**
 * A Redis connection for the rate limits of every gateway replica. It never queues commands
 * while disconnected and gives each one a short deadline, so a Redis outage costs a request a few
 * milliseconds (the limit is then skipped, see createRateLimits), never a hang.
 */
export function connectRateLimitRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    commandTimeout: 250,
    maxRetriesPerRequest: 0,
    connectionName: 'mercado-gateway-rate-limits',
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  });
  // One line per outage, however many reconnect attempts fail meanwhile.
  let reported = false;
  const unavailable = (error?: Error) => {
    if (reported) return;
    reported = true;
    log.error(
      { err: error ? { message: error.message } : undefined },
      'rate-limit store unavailable; limits skipped',
    );
  };
  redis.on('error', function onRateLimitRedisError(error: Error) {
    unavailable(error);
  });
  redis.on('close', function onRateLimitRedisClose() {
    unavailable();
  });
  redis.on('ready', function onRateLimitRedisReady() {
    if (reported) log.info('rate-limit store reachable again');
    reported = false;
  });
  redis.defineCommand('mercadoRateLimitHit', { numberOfKeys: 1, lua: hitScript });
  return redis;
}

/**
 * Waits, at most `timeoutMs`, for the first connection, so a starting gateway does not let its
 * first requests through uncounted; past the deadline it goes on (the shop opens without limits).
 */
export async function rateLimitRedisReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    function onReady() {
      clearTimeout(timer);
      resolve(true);
    }
    redis.once('ready', onReady);
  });
}

/** An express-rate-limit store in Redis, shared by every gateway replica using the same prefix. */
export class RedisRateLimitStore implements Store {
  readonly prefix: string;
  readonly localKeys = false;
  readonly #redis: CountingRedis;
  #windowMs = 60_000;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis as CountingRedis;
    this.prefix = prefix;
  }

  init(options: Options): void {
    this.#windowMs = options.windowMs;
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const [hits, left] = await Promise.all([
      this.#redis.get(this.prefix + key),
      this.#redis.pttl(this.prefix + key),
    ]);
    if (hits === null) return undefined;
    return { totalHits: Number(hits), resetTime: new Date(Date.now() + Math.max(left, 0)) };
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    const [hits, left] = await this.#redis.mercadoRateLimitHit(
      this.prefix + key,
      String(this.#windowMs),
    );
    return { totalHits: hits, resetTime: new Date(Date.now() + left) };
  }

  async decrement(key: string): Promise<void> {
    await this.#redis.decr(this.prefix + key);
  }

  async resetKey(key: string): Promise<void> {
    await this.#redis.del(this.prefix + key);
  }
}
