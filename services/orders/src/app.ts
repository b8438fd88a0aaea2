import type { Express } from 'express';
import { buildServiceApp, createCursorCodec, type ApiRouter } from '@mercado/common/http';
import { type Knex } from '@mercado/common/db';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import { ordersErrors } from './errors.js';
import { cartRoutes } from './api/cart-routes.js';
import { ordersRoutes } from './api/orders-routes.js';
import { createProductCatalog } from './clients/products-client.js';
import { createInventoryClient } from './clients/inventory-client.js';
import type { Inventory, OrdersDeps, ProductCatalog } from './domain/deps.js';
import type { OrdersConfig } from './config.js';

export { loadOrdersConfig, ordersSettings, type OrdersConfig } from './config.js';
export { ordersErrors } from './errors.js';
export type { OrdersDeps, ProductCatalog, Inventory, CatalogProduct } from './domain/deps.js';
export type { CartView, CartLineView, CartNotice } from './domain/cart.js';
export type { OrderView, OrderSummaryView } from './domain/views.js';
export { ordersOutbox } from './data/outbox-repository.js';
export { orderTransitions } from './domain/transitions.js';
export { applyPaymentResult, type ResultOutcome } from './domain/payment-results.js';
export { consumePaymentResults } from './consumers/payment-results.js';
export {
  createOrderSweeper,
  sweepOrders,
  type OrderSweeper,
  type SweepDeps,
  type SweepResult,
} from './domain/sweeper.js';

export const ordersMigrationsDir = new URL('../../../sql/orders', import.meta.url);

export interface OrdersAppDeps {
  config: OrdersConfig;
  log: Logger;
  metrics: Metrics;
  db: Knex;
  /** The products service client; built from PRODUCTS_URLS when not given. */
  catalog?: ProductCatalog;
  /** The inventory service client; built from INVENTORY_URLS when not given. */
  inventory?: Inventory;
  isShuttingDown?: () => boolean;
}

export function ordersDeps({ config, log, db, catalog, inventory }: OrdersAppDeps): OrdersDeps {
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
    inventory:
      inventory ??
      createInventoryClient({
        baseUrls: config.INVENTORY_URLS,
        internalSecret: config.INTERNAL_SECRET,
        timeoutMs: config.INVENTORY_TIMEOUT_MS,
        log,
      }),
    settings: {
      regions: config.REGIONS,
      cartMaxLines: config.CART_MAX_LINES,
      paymentWindowSeconds: config.PAYMENT_WINDOW_SECONDS,
      expiryGraceSeconds: config.EXPIRY_GRACE_SECONDS,
    },
    cursors: createCursorCodec(config.INTERNAL_SECRET, 'orders/orders'),
  };
}

/** Every operation of the orders service, by router (their specs are what the app enforces). */
export function ordersApis(deps: OrdersDeps): ApiRouter[] {
  return [cartRoutes(deps), ordersRoutes(deps)];
}

/** Builds the orders service's HTTP app (it does not listen, and starts nothing in the background). */
export function buildOrdersApp(deps: OrdersAppDeps): Express {
  return buildServiceApp({
    ...deps,
    name: 'orders',
    title: 'Mercado orders',
    apis: ordersApis(ordersDeps(deps)),
    errors: ordersErrors,
  });
}
