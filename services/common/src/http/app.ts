import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { AppError } from '../errors/app-error.js';
import { errorHandler, notFoundHandler } from './error-handler.js';
import { requestContext } from './request-context.js';

export type ReadinessCheck = () => Promise<void>;

export interface HttpAppOptions {
  name: string;
  log: Logger;
  metrics: Metrics;
  bodyLimitBytes: number;
  /** Named checks behind `/health/ready` (database, broker, ...). */
  readiness?: Record<string, ReadinessCheck>;
  /** Mounts the service's own routes. */
  routes: (app: Express) => void;
  /** Parse JSON bodies (services do; the gateway streams them through untouched). */
  parseJson?: boolean;
  /** Set while shutting down, so the load balancer stops sending traffic here. */
  isShuttingDown?: () => boolean;
  /** The service's OpenAPI document, served at `/openapi.json` (the gateway merges them). */
  openapi?: () => unknown;
}

function routeLabel(req: express.Request): string {
  const route = (req as { route?: { path?: unknown } }).route;
  if (route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  return 'unmatched';
}

/** Records every response's duration by route template (never the raw path: ids would explode cardinality). */
function measure(metrics: Metrics): RequestHandler {
  return function measureRequest(req, res, next) {
    const start = process.hrtime.bigint();
    res.once('finish', function recordDuration() {
      metrics.httpDuration.observe(
        { method: req.method, route: routeLabel(req), status: String(res.statusCode) },
        Number(process.hrtime.bigint() - start) / 1e9,
      );
    });
    next();
  };
}

/** Logs one line per finished request: ids and outcomes, never bodies, queries or headers. */
function accessLog(log: Logger): RequestHandler {
  return function logRequest(req, res, next) {
    const start = process.hrtime.bigint();
    res.once('finish', function logFinished() {
      // originalUrl: req.path is relative to the router that handled the request by now.
      const path = req.originalUrl.split('?', 1)[0] ?? '';
      if (path.startsWith('/health/') || path === '/metrics') return;
      const level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
      log[level](
        {
          method: req.method,
          path,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - start) / 1e6,
        },
        'request',
      );
    });
    next();
  };
}

/** A JSON body needs a JSON content type; anything else is 415 rather than silently ignored. */
const requireJsonContentType: RequestHandler = function requireJson(req, _res, next) {
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
  if (hasBody && !req.is(['application/json', 'application/*+json'])) {
    next(new AppError('unsupported_media_type'));
    return;
  }
  next();
};

/**
 * Builds (never listens) an HTTP app with what every Mercado service has: request ids, access
 * logs, metrics, health endpoints, a JSON body limit, and problem+json errors for everything
 * including unknown routes.
 */
export function buildHttpApp(options: HttpAppOptions): Express {
  const { log, metrics, readiness = {}, isShuttingDown = () => false } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestContext);
  app.use(measure(metrics));
  app.use(accessLog(log));

  app.get('/health/live', function live(_req, res) {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async function ready(_req, res) {
    const checks: Record<string, string> = {};
    let ok = !isShuttingDown();
    if (!ok) checks.shutdown = 'in progress';
    await Promise.all(
      Object.entries(readiness).map(async ([name, check]) => {
        try {
          await check();
          checks[name] = 'ok';
        } catch (error) {
          ok = false;
          checks[name] = 'failing';
          log.warn({ check: name, err: error }, 'readiness check failed');
        }
      }),
    );
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks });
  });
  if (options.openapi) {
    let document: string | undefined;
    const describe = options.openapi;
    app.get('/openapi.json', function openapi(_req, res) {
      document ??= JSON.stringify(describe());
      res.type('application/json').send(document);
    });
  }
  app.get('/metrics', async function exposeMetrics(_req, res) {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  if (options.parseJson !== false) {
    app.use(requireJsonContentType);
    app.use(
      express.json({
        limit: options.bodyLimitBytes,
        strict: true,
        type: ['application/json', 'application/*+json'],
      }),
    );
  }
  options.routes(app);
  app.use(notFoundHandler());
  app.use(errorHandler(log));
  return app;
}
