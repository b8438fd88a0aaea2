import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import type { Logger } from '../log/logger.js';
import { answerClientError } from './client-error.js';

export interface ListeningServer {
  server: http.Server;
  url: string;
  port: number;
  /** Stops accepting, lets in-flight requests finish, and force-closes what is left at the deadline. */
  close(deadlineMs?: number): Promise<void>;
}

type Callable = (this: unknown, ...args: unknown[]) => void;

/** Node's own constructors are plain functions, callable on an object made elsewhere. */
function isCallableConstructor(fn: unknown): fn is Callable {
  return typeof fn === 'function' && !Function.prototype.toString.call(fn).startsWith('class');
}

/**
 * Express moves every request and response onto its own prototypes (`Object.setPrototypeOf` in
 * `app.handle`), which V8 makes slow for everything that touches them afterwards. When the
 * handler is an express app, the server creates them on express's prototypes in the first place,
 * so that call finds nothing to change. Measured here: a kit service answering a small JSON went
 * from ~120 to ~45 µs of CPU per request, a proxied request through the gateway from ~250 to ~140.
 */
function serverOptionsFor(handler: RequestListener): http.ServerOptions {
  const { request, response } = handler as { request?: unknown; response?: unknown };
  const baseRequest: unknown = http.IncomingMessage;
  const baseResponse: unknown = http.ServerResponse;
  if (
    !(request instanceof http.IncomingMessage) ||
    !(response instanceof http.ServerResponse) ||
    !isCallableConstructor(baseRequest) ||
    !isCallableConstructor(baseResponse)
  ) {
    return {};
  }
  const BaseRequest: Callable = baseRequest;
  const BaseResponse: Callable = baseResponse;
  // Plain functions calling the base on `this`: Reflect.construct would do the same job but
  // measured slower than not doing this at all.
  function ExpressRequest(this: unknown, socket: unknown): void {
    BaseRequest.call(this, socket);
  }
  ExpressRequest.prototype = request;
  function ExpressResponse(this: unknown, req: unknown, options: unknown): void {
    BaseResponse.call(this, req, options);
  }
  ExpressResponse.prototype = response;
  return {
    IncomingMessage: ExpressRequest as unknown as typeof http.IncomingMessage,
    ServerResponse: ExpressResponse as unknown as typeof http.ServerResponse,
  };
}

/**
 * Listens on host:port (port 0 picks a free one) and resolves once the socket is bound. Requests
 * Node's parser refuses are answered problem+json too (see answerClientError).
 */
export async function listen(
  handler: RequestListener,
  { host = '127.0.0.1', port = 0 }: { host?: string; port?: number } = {},
): Promise<ListeningServer> {
  const server = http.createServer(serverOptionsFor(handler), handler);
  server.on('clientError', answerClientError);
  // Keep-alive longer than the load balancer's (nginx 60s upstream keepalive_timeout default)
  // avoids the race where we close a socket the proxy is about to reuse.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    port: address.port,
    url: `http://${shownHost}:${address.port}`,
    close: (deadlineMs = 10_000) => closeGracefully(server, deadlineMs),
  };
}

function closeGracefully(server: http.Server, deadlineMs: number): Promise<void> {
  return new Promise((resolve) => {
    const deadline = setTimeout(function forceClose() {
      server.closeAllConnections();
    }, deadlineMs);
    deadline.unref();
    // A keep-alive socket becomes idle when its in-flight response ends; without this sweep it
    // would hold close() open until its keep-alive timeout.
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    sweep.unref();
    server.close(function closed() {
      clearTimeout(deadline);
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export interface ShutdownOptions {
  log: Logger;
  deadlineMs: number;
  /** Run in order after the server stopped: close pools, clients, ... */
  steps: Array<{ name: string; run: () => Promise<unknown> }>;
  signals?: NodeJS.Signals[];
  exit?: (code: number) => void;
}

/**
 * Wires SIGTERM/SIGINT to an orderly stop: `onStart` flips readiness to failing, then each step
 * runs within the deadline; the process exits 0 when all finished in time, 1 otherwise.
 */
export function handleShutdown({
  log,
  deadlineMs,
  steps,
  signals = ['SIGTERM', 'SIGINT'],
  exit = (code) => process.exit(code),
}: ShutdownOptions): { shuttingDown: () => boolean; shutdown: (reason: string) => Promise<void> } {
  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, 'shutting down');
      const timer = setTimeout(function shutdownDeadline() {
        log.error({ deadlineMs }, 'shutdown deadline passed; exiting');
        exit(1);
      }, deadlineMs + 1000);
      timer.unref();
      let code = 0;
      for (const step of steps) {
        try {
          log.debug({ step: step.name }, 'shutdown step');
          await step.run();
        } catch (error) {
          code = 1;
          log.error({ err: error, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      log.info('stopped');
      exit(code);
    })();
    return stopping;
  };
  for (const signal of signals) process.once(signal, () => void shutdown(signal));
  return { shuttingDown: () => stopping !== undefined, shutdown };
}
