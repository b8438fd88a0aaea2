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
  /** Until when (epoch ms) this URL is skipped after a failed connection. */
  downUntil: number;
}

export function parseUpstream(url: string): Upstream {
  const parsed = new URL(url);
  // WHATWG keeps IPv6 brackets in hostname; node:http wants the bare address.
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    origin: parsed.origin,
    target: { protocol: 'http:', host: hostname, hostname, port: parsed.port || '80' },
    downUntil: 0,
  };
}

/**
 * The URLs of one service, taken in turn (round robin). A URL whose connection failed is skipped
 * for the cooldown; when every URL is cooling down the one that recovers first is tried anyway,
 * so a service with one URL is never blacked out by a single refused connection (nginx does the
 * same for a lone server).
 */
export class UpstreamPool {
  readonly service: string;
  readonly upstreams: readonly Upstream[];
  readonly #cooldownMs: number;
  #next = 0;

  constructor(service: string, urls: readonly string[], cooldownMs: number) {
    if (urls.length === 0) throw new Error(`${service} has no URLs`);
    this.service = service;
    this.upstreams = urls.map(parseUpstream);
    this.#cooldownMs = cooldownMs;
  }

  /** The next URL to use: the next live one in turn, or the soonest to recover. */
  pick(now = Date.now()): Upstream {
    return this.pickLive(now) ?? this.#soonestToRecover();
  }

  /** The next live URL in turn, or undefined when all are cooling down. */
  pickLive(now = Date.now()): Upstream | undefined {
    const count = this.upstreams.length;
    for (let tried = 0; tried < count; tried++) {
      const upstream = this.upstreams[this.#next]!;
      this.#next = this.#next + 1 === count ? 0 : this.#next + 1;
      if (upstream.downUntil <= now) return upstream;
    }
    return undefined;
  }

  markDown(upstream: Upstream, now = Date.now()): void {
    upstream.downUntil = now + this.#cooldownMs;
  }

  #soonestToRecover(): Upstream {
    let soonest = this.upstreams[0]!;
    for (const upstream of this.upstreams) {
      if (upstream.downUntil < soonest.downUntil) soonest = upstream;
    }
    return soonest;
  }
}
