import type { Express } from 'express';
import type { Knex } from 'knex';
import type { ErrorCatalogue } from '../errors/define-errors.js';
import { pingDb } from '../db/db.js';
import { identityFromGateway } from '../identity/identity.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ApiRouter } from './api-router.js';
import { openApiDocument } from './openapi.js';
import { buildHttpApp } from './app.js';

export interface ServiceAppOptions {
  name: string;
  /** The title of the service's OpenAPI document. */
  title: string;
  config: { BODY_LIMIT_BYTES: number; INTERNAL_SECRET: string };
  log: Logger;
  metrics: Metrics;
  db: Knex;
  isShuttingDown?: (() => boolean) | undefined;
  /** Every router of the service; each mounts at its base path and documents its routes. */
  apis: ApiRouter[];
  /** The service's error codes (its `errors.ts`), listed in its document's Problem. */
  errors: ErrorCatalogue;
}

/**
 * The app of a database-backed Mercado service: the kit's HTTP app with database readiness, the
 * caller's identity read from the gateway's (or a service's) signed headers on `/api` and
 * `/internal`, the routers mounted at their base paths, and `/openapi.json` describing them.
 */
export function buildServiceApp(options: ServiceAppOptions): Express {
  const { apis, config, db } = options;
  const operations = apis.flatMap((api) => api.operations);
  return buildHttpApp({
    name: options.name,
    log: options.log,
    metrics: options.metrics,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    readiness: { database: () => pingDb(db) },
    openapi: () =>
      openApiDocument({ title: options.title, version: '1' }, operations, options.errors),
    ...(options.isShuttingDown ? { isShuttingDown: options.isShuttingDown } : {}),
    routes(app) {
      app.use(['/api', '/internal'], identityFromGateway(config.INTERNAL_SECRET));
      for (const api of apis) app.use(api.basePath, api.router);
    },
  });
}
