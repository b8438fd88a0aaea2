import type { Express } from 'express';
import {
  buildHttpApp,
  openApiDocument,
  createCursorCodec,
  identityFromGateway,
  pingDb,
  type Knex,
  type Logger,
  type Metrics,
} from '@mercado/common';
import { inventoryApi } from './api/routes.js';
import { createProductCatalog } from './clients/products-client.js';
import type { InventoryDeps, ProductCatalog } from './domain/deps.js';
import type { InventoryConfig } from './config.js';

export { loadInventoryConfig, inventorySettings, type InventoryConfig } from './config.js';
export { createProductCatalog, productsLookupPath } from './clients/products-client.js';
export {
  createReservationSweeper,
  sweepExpiredReservations,
  type ReservationSweeper,
  type SweepDeps,
} from './domain/sweeper.js';
export { lowStockTopic, type LowStockReached } from './domain/events.js';
export { reservationCallers } from './api/routes.js';
export type { InventoryDeps, ProductCatalog, CatalogProduct } from './domain/deps.js';
export type {
  ProductStockView,
  ReservationView,
  StockLevelView,
  StockRowView,
} from './domain/views.js';

export const inventoryMigrationsDir = new URL('../../../sql/inventory', import.meta.url);

export interface InventoryAppDeps {
  config: InventoryConfig;
  log: Logger;
  metrics: Metrics;
  db: Knex;
  /** The products service client; built from PRODUCTS_URLS when not given. */
  catalog?: ProductCatalog;
  isShuttingDown?: () => boolean;
}

export function inventoryDeps({ config, log, db, catalog }: InventoryAppDeps): InventoryDeps {
  return {
    db,
    log,
    catalog:
      catalog ??
      createProductCatalog({
        baseUrls: config.PRODUCTS_URLS,
        internalSecret: config.INTERNAL_SECRET,
        timeoutMs: config.PRODUCTS_TIMEOUT_MS,
        log,
      }),
    regions: config.REGIONS,
    reservationTtlSeconds: config.RESERVATION_TTL_SECONDS,
    cursors: createCursorCodec(config.INTERNAL_SECRET, 'inventory/low-stock'),
  };
}

/** Builds the inventory service's HTTP app (it does not listen, and starts no sweeper). */
export function buildInventoryApp(deps: InventoryAppDeps): Express {
  const domain = inventoryDeps(deps);
  const api = inventoryApi(domain);
  return buildHttpApp({
    name: 'inventory',
    log: deps.log,
    metrics: deps.metrics,
    bodyLimitBytes: deps.config.BODY_LIMIT_BYTES,
    readiness: { database: () => pingDb(deps.db) },
    openapi: () => openApiDocument({ title: 'Mercado inventory', version: '1' }, api.operations),
    ...(deps.isShuttingDown ? { isShuttingDown: deps.isShuttingDown } : {}),
    routes(app) {
      const readIdentity = identityFromGateway(deps.config.INTERNAL_SECRET);
      app.use('/api', readIdentity);
      app.use('/internal', readIdentity);
      for (const [basePath, router] of api.routers) app.use(basePath, router);
    },
  });
}
