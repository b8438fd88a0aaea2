import type { Express } from 'express';
import {
  buildServiceApp,
  createCursorCodec,
  startAnswerCache,
  type ApiRouter,
  type ServiceAnswers,
} from '@mercado/common/http';
import { type Knex } from '@mercado/common/db';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import { inventoryErrors } from './errors.js';
import { inventoryRoutes, reservationRoutes } from './api/routes.js';
import { createProductCatalog } from './clients/products-client.js';
import type { InventoryDeps, ProductCatalog } from './domain/deps.js';
import type { InventoryConfig } from './config.js';

export { loadInventoryConfig, inventorySettings, type InventoryConfig } from './config.js';
export { createProductCatalog } from './clients/products-client.js';
export {
  createReservationSweeper,
  sweepExpiredReservations,
  type ReservationSweeper,
  type SweepDeps,
} from './domain/sweeper.js';
export { lowStockTopic, type LowStockReached } from './domain/events.js';
export { inventoryOutbox } from './data/outbox-repository.js';
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
  /** Rendered stock answers, kept until a product's stock changes; without it, none is kept. */
  answers?: ServiceAnswers;
  isShuttingDown?: () => boolean;
}

/** The channel sql/inventory's triggers notify, with the product id, on every committed change. */
export const stockChangesChannel = 'stock_changed';

/** The answer cache of stock reads, per product, when it is on (stop it with `close()`). */
export function startStockAnswers({
  config,
  log,
  metrics,
}: Pick<InventoryAppDeps, 'config' | 'log' | 'metrics'>): ServiceAnswers | undefined {
  return startAnswerCache({
    config,
    log,
    registry: metrics.registry,
    channel: stockChangesChannel,
    keyed: true,
    name: 'mercado-inventory-changes',
  });
}

export function inventoryDeps({
  config,
  log,
  db,
  catalog,
  answers,
}: InventoryAppDeps): InventoryDeps {
  return {
    ...(answers ? { answers: answers.cache } : {}),
    // Keys as the database's notifications spell them: uuid::text is lower case.
    stockChanged: (productIds) =>
      answers?.feed.changed([...productIds].map((productId) => productId.toLowerCase())),
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

/** Every operation of the inventory service, by router (their specs are what the app enforces). */
export function inventoryApis(domain: InventoryDeps): ApiRouter[] {
  return [inventoryRoutes(domain), reservationRoutes(domain)];
}

/** Builds the inventory service's HTTP app (it does not listen, and starts no sweeper). */
export function buildInventoryApp(deps: InventoryAppDeps): Express {
  return buildServiceApp({
    ...deps,
    name: 'inventory',
    title: 'Mercado inventory',
    apis: inventoryApis(inventoryDeps(deps)),
    errors: inventoryErrors,
  });
}
