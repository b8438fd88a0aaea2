/** One URL of a service, parsed once into what the proxy needs to open a connection. */
export interface Upstream {
  /** `http://host:port`, for logs, health probes and fetching the JWKS. */
  readonly origin: string;
  /** The fields http-proxy reads from a target; a pre-parsed object spares a URL parse per request. */
  readonly target: {
    readonly protocol: 'http:';
    readonly host: string;
    readonly hostname: string;
    readonly port: string;
  };
  /** Until when (epoch ms) this URL's breaker is open: it is skipped, requests fail fast. */
  downUntil: number;
  /** Failures in a row (refused, timed out, or answered 502/503/504); a success resets it. */
  failures: number;
  /** Half-open: one trial request is out after the breaker's open time; others wait for it. */
  trialInFlight: boolean;
}

export function parseUpstream(url: string): Upstream {
  const parsed = new URL(url);
  // WHATWG keeps IPv6 brackets in hostname; node:http wants the bare address.
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    origin: parsed.origin,
    target: { protocol: 'http:', host: hostname, hostname, port: parsed.port || '80' },
    downUntil: 0,
    failures: 0,
    trialInFlight: false,
  };
}

export interface BreakerSettings {
  /** How long an opened breaker stays open before a trial request may go through. */
  openMs: number;
  /** Failures in a row that open the breaker; a refused connection opens it at once. */
  failureThreshold: number;
  /** The clock breakers open and close by (epoch ms); tests pass one they move by hand. */
  now?: () => number;
}

/**
 * The URLs of one service, taken in turn (round robin), each behind its own circuit breaker:
 * - closed: requests flow; failures in a row are counted, a success resets the count;
 * - open (after `failureThreshold` failures, or one refused connection): the URL is skipped, and
 *   when every URL of the service is open, requests fail fast (503 `circuit_open` with
 *   Retry-After) instead of piling up on a service that cannot answer;
 * - half-open (once `openMs` has passed): one trial request goes through; its success closes the
 *   breaker, its failure opens it again for another `openMs`.
 */
export class UpstreamPool {
  readonly service: string;
  readonly upstreams: readonly Upstream[];
  readonly #breaker: BreakerSettings;
  readonly #now: () => number;
  #next = 0;

  constructor(service: string, urls: readonly string[], breaker: BreakerSettings) {
    if (urls.length === 0) throw new Error(`${service} has no URLs`);
    this.service = service;
    this.upstreams = urls.map(parseUpstream);
    this.#breaker = breaker;
    this.#now = breaker.now ?? Date.now;
  }

  /**
   * The next URL to send a request to, in turn: a closed one, or a half-open one whose trial this
   * request becomes. Undefined when every breaker is open (or half-open with its trial out).
   */
  pick(now = this.#now()): Upstream | undefined {
    const count = this.upstreams.length;
    let trial: Upstream | undefined;
    for (let tried = 0; tried < count; tried++) {
      const upstream = this.upstreams[this.#next]!;
      this.#next = this.#next + 1 === count ? 0 : this.#next + 1;
      if (upstream.downUntil === 0) return upstream;
      if (trial === undefined && upstream.downUntil <= now && !upstream.trialInFlight) {
        trial = upstream;
      }
    }
    if (trial) trial.trialInFlight = true;
    return trial;
  }

  /** Seconds until some breaker of this service lets a trial through (for Retry-After). */
  retryAfterSeconds(now = this.#now()): number {
    let soonest = Number.POSITIVE_INFINITY;
    for (const upstream of this.upstreams) soonest = Math.min(soonest, upstream.downUntil);
    return Math.max(1, Math.ceil((soonest - now) / 1000));
  }

  /** The service answered (anything but 502/503/504): close the breaker. */
  recordSuccess(upstream: Upstream): void {
    upstream.failures = 0;
    upstream.downUntil = 0;
    upstream.trialInFlight = false;
  }

  /**
   * The request failed. A refused connection (`decisive`) says the URL is down now; other
   * failures (timeouts, 502/503/504) open the breaker once they reach the threshold in a row. A
   * failed trial re-opens it at once.
   */
  recordFailure(upstream: Upstream, decisive: boolean, now = this.#now()): void {
    upstream.failures++;
    const wasTrial = upstream.trialInFlight;
    upstream.trialInFlight = false;
    if (decisive || wasTrial || upstream.failures >= this.#breaker.failureThreshold) {
      upstream.downUntil = now + this.#breaker.openMs;
    }
  }

  /** Whether this URL's breaker is open or half-open (for health reports). */
  isOpen(upstream: Upstream): boolean {
    return upstream.downUntil !== 0;
  }
}
