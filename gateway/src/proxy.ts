import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { NextFunction, Request, Response } from 'express';
import { createProxyMiddleware, type Options } from 'http-proxy-middleware';
import { sendProblem } from '@mercado/common/http';
import { signIdentity, type Identity } from '@mercado/common/identity';
import { type Logger } from '@mercado/common/log';
import { gatewayError } from './errors.js';
import type { MicroCache } from './micro-cache.js';
import type { Upstream, UpstreamPool } from './upstreams.js';

/** Where one proxied request is going; kept on the request for the router and error handler. */
interface ProxyState {
  pool: UpstreamPool;
  upstream: Upstream;
  attempts: number;
  /** Set when the answer may be kept by the micro-cache under this key. */
  cacheKey: string | undefined;
}

const proxyState = Symbol('mercado.proxyState');
const upstreamRequest = Symbol('mercado.upstreamRequest');

type ProxiedRequest = Request & { [proxyState]?: ProxyState };
type TrackedResponse = Response & { [upstreamRequest]?: ClientRequest };

/** Raised by our own timer; http-proxy's `timeout`/`proxyTimeout` options are not used (docs/platform-notes.md, HTTP). */
class UpstreamTimeoutError extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
  /** The connection was never established, which says the URL itself is unreachable. */
  readonly whileConnecting: boolean;
  constructor(whileConnecting: boolean) {
    super('upstream did not answer in time');
    this.name = 'UpstreamTimeoutError';
    this.whileConnecting = whileConnecting;
  }
}

/** Marks an upstream request torn down because the client went away: nobody to answer. */
const clientGone = Object.assign(new Error('client closed the connection'), {
  code: 'CLIENT_GONE',
});

/** Errors that happen before a request reaches the service: the URL is down, another may be up. */
const connectFailures = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) belong to the client's connection, not to the one we open.
 * `expect` goes too: our server already answered 100-continue, and http-proxy skips its
 * `proxyReq` hook (where the timeout is armed) for requests that carry it.
 */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

const identityPrefix = 'x-mercado-';

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** The scheme the client used to reach us, when no proxy in front says otherwise. */
function ownProtocol(req: Request): string {
  return (req.socket as TLSSocket).encrypted ? 'https' : 'http';
}

function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Signs identities, reusing a signature within the same second: the signed envelope only carries
 * whole seconds, so the headers are exactly what signing again would give, minus an HMAC.
 */
function createIdentitySigner(secret: string, maxEntries = 10_000) {
  let second = 0;
  const signedThisSecond = new Map<string, Record<string, string>>();
  return function signedHeaders(identity: Identity): Record<string, string> {
    const now = Date.now();
    const current = Math.floor(now / 1000);
    if (current !== second) {
      signedThisSecond.clear();
      second = current;
    }
    // NUL cannot occur in an address (HTTP header values refuse it) nor in a role, so with the
    // user id last no two identities share a key.
    const key = `${identity.ip ?? ''}\0${identity.roles.join(',')}\0${identity.userId ?? ''}`;
    let headers = signedThisSecond.get(key);
    if (headers === undefined) {
      headers = signIdentity(identity, secret, now);
      if (signedThisSecond.size < maxEntries) signedThisSecond.set(key, headers);
    }
    return headers;
  };
}

export interface UpstreamProxyOptions {
  log: Logger;
  /** Idle time allowed on the upstream connection (connecting, sending, waiting, receiving). */
  timeoutMs: number;
  /** Signs the caller's identity onto every proxied request. */
  internalSecret: string;
  /** Keeps cacheable public answers (see micro-cache.ts). */
  cache: MicroCache;
}

export interface UpstreamProxy {
  /** Rewrites the request's headers for the service and streams it there, body untouched. */
  forward(
    req: Request,
    res: Response,
    next: NextFunction,
    pool: UpstreamPool,
    identity: Identity,
    cacheKey?: string,
  ): void;
  /** The keep-alive agent every upstream request goes through (health probes use it too). */
  readonly agent: http.Agent;
  /** Closes idle and active upstream connections. */
  close(): void;
}

export function createUpstreamProxy({
  log,
  timeoutMs,
  internalSecret,
  cache,
}: UpstreamProxyOptions): UpstreamProxy {
  // One agent for all services: connections are reused across requests (docs/platform-notes.md:
  // ~1.8x the throughput of a fresh connection each time). maxSockets is per upstream host:port.
  // LIFO keeps the busy few sockets warm and lets the rest expire. Idle sockets are dropped after
  // 30 s, before a Mercado service's 65 s keep-alive would close them under us.
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: 256,
    maxFreeSockets: 64,
    scheduling: 'lifo',
    timeout: 30_000,
  });

  const signedHeaders = createIdentitySigner(internalSecret);

  /** http-proxy options shared by the first attempt (through hpm) and retries. */
  const forwardOptions = {
    agent,
    // http-proxy url.parse()s req.url unless told it talks to a proxy; we only route paths that
    // start with `/api/`, so the request line is already origin-form and goes through as is.
    toProxy: true,
    xfwd: false,
    changeOrigin: false,
  } satisfies Options;

  let proxyServer: Parameters<NonNullable<Options['plugins']>[number]>[0] | undefined;

  function chosenTarget(req: Request) {
    return (req as ProxiedRequest)[proxyState]!.upstream.target;
  }

  function armUpstreamRequest(proxyReq: ClientRequest, _req: Request, res: Response): void {
    proxyReq.setTimeout(timeoutMs, upstreamTimedOut);
    const tracked = res as TrackedResponse;
    if (tracked[upstreamRequest] === undefined) res.once('close', abortUpstreamOnClientClose);
    tracked[upstreamRequest] = proxyReq;
  }

  function upstreamTimedOut(this: ClientRequest): void {
    this.destroy(new UpstreamTimeoutError(this.socket?.connecting === true));
  }

  /**
   * The service answered: that is the breaker's evidence (502/503/504 count as failures). And the
   * service's connection headers describe its connection to us; the client's connection is ours
   * to describe (http-proxy would copy them, e.g. the service's `Keep-Alive: timeout=`).
   */
  function onUpstreamResponse(proxyRes: IncomingMessage, req: Request, res: Response): void {
    const state = (req as ProxiedRequest)[proxyState];
    if (state) {
      const status = proxyRes.statusCode ?? 502;
      if (status === 502 || status === 503 || status === 504) {
        state.pool.recordFailure(state.upstream, false);
      } else {
        state.pool.recordSuccess(state.upstream);
      }
      if (state.cacheKey !== undefined) cache.capture(state.cacheKey, proxyRes);
    }
    const headers = proxyRes.headers;
    if (headers['keep-alive'] !== undefined) delete headers['keep-alive'];
    if (headers['proxy-connection'] !== undefined) delete headers['proxy-connection'];
    headers.connection = res.shouldKeepAlive ? 'keep-alive' : 'close';
  }

  /** A client that hangs up should not leave its upstream request (and socket) running. */
  function abortUpstreamOnClientClose(this: TrackedResponse): void {
    if (!this.writableFinished) this[upstreamRequest]?.destroy(clientGone);
  }

  /**
   * Sends a bodiless request again when it cannot have reached the service: its connection was
   * refused (to another URL), or, for GET/HEAD, a kept-alive connection was closed by the service
   * just as we reused it (the race Node's docs describe for `request.reusedSocket`). A body has
   * been streamed away by then, so requests with one get the error instead.
   */
  function retry(
    req: ProxiedRequest,
    res: TrackedResponse,
    state: ProxyState,
    code: string,
  ): boolean {
    if (!proxyServer || hasBody(req) || state.attempts > state.pool.upstreams.length) return false;
    let next: Upstream | undefined;
    if (connectFailures.has(code)) {
      next = state.pool.pick();
    } else if (
      code === 'ECONNRESET' &&
      (req.method === 'GET' || req.method === 'HEAD') &&
      res[upstreamRequest]?.reusedSocket === true
    ) {
      next = state.upstream;
    }
    if (!next) return false;
    state.upstream = next;
    state.attempts++;
    proxyServer.web(req, res, { ...forwardOptions, target: next.target });
    return true;
  }

  function onProxyError(error: Error, req: Request, res: Response | Socket): void {
    const state = (req as ProxiedRequest)[proxyState];
    if (error === clientGone) {
      // Nobody learnt anything about the service; a trial it carried must not stay claimed.
      if (state) state.upstream.trialInFlight = false;
      return;
    }
    const code = errorCode(error);
    const failed = state?.upstream;
    const attempt = state?.attempts;
    const timedOut = error instanceof UpstreamTimeoutError;
    if (state) {
      const decisive = connectFailures.has(code) || (timedOut && error.whileConnecting);
      state.pool.recordFailure(state.upstream, decisive);
    }
    const response = 'writeHead' in res && !res.headersSent && !res.destroyed ? res : undefined;
    const retrying =
      response !== undefined && state !== undefined && retry(req, response, state, code);
    log.warn(
      {
        upstream: state?.pool.service,
        url: failed?.origin,
        code,
        attempt,
        retrying,
      },
      'upstream request failed',
    );
    if (retrying) return;
    if (!response) {
      // Part of the answer is out (or there is no one to answer): cutting the connection is the
      // only honest signal left.
      if (!res.destroyed) res.destroy();
      return;
    }
    // The upstream's own error text never reaches the client.
    sendProblem(
      req,
      response,
      gatewayError(timedOut ? 'upstream_timeout' : 'upstream_unavailable'),
    );
  }

  const middleware = createProxyMiddleware<Request, Response>({
    ...forwardOptions,
    router: chosenTarget,
    // hpm's default plugins log through console and build a URL per response; ours are below.
    ejectPlugins: true,
    plugins: [
      function wireProxyEvents(server) {
        proxyServer = server;
        server.on('proxyReq', armUpstreamRequest);
        server.on('proxyRes', onUpstreamResponse);
        server.on('error', onProxyError);
      },
    ],
  });

  return {
    agent,
    forward(req, res, next, pool, identity, cacheKey) {
      const headers = req.headers;
      const connection = headers.connection;
      if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') {
        for (const name of connection.toLowerCase().split(',')) delete headers[name.trim()];
      }
      // A client cannot pose as someone: whatever x-mercado-* it sent is dropped, and only the
      // identity signed below reaches the service.
      for (const name in headers) {
        if (name.startsWith(identityPrefix) || hopByHop.has(name)) delete headers[name];
      }
      const signed = signedHeaders(identity);
      for (const name in signed) headers[name] = signed[name];
      headers['x-request-id'] = req.id;
      const peer = req.socket.remoteAddress;
      if (peer !== undefined) {
        const prior = headers['x-forwarded-for'];
        headers['x-forwarded-for'] = prior === undefined ? peer : `${prior}, ${peer}`;
      }
      headers['x-forwarded-proto'] =
        headers['x-forwarded-proto'] === undefined ? ownProtocol(req) : req.protocol;
      const upstream = pool.pick();
      if (upstream === undefined) {
        // Every URL's breaker is open: answer now rather than queue on a failing service.
        throw gatewayError('circuit_open', {
          headers: { 'retry-after': String(pool.retryAfterSeconds()) },
        });
      }
      (req as ProxiedRequest)[proxyState] = { pool, upstream, attempts: 1, cacheKey };
      void middleware(req, res, next);
    },
    close() {
      agent.destroy();
    },
  };
}
