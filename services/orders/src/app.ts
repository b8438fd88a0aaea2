import type { Express } from 'express';
import { buildServiceApp, createCursorCodec, type ApiRouter } from '@mercado/common/http';
import { openSessionLocks, type Knex, type SessionLocks } from '@mercado/common/db';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import type { BackgroundTask } from '@mercado/common/main';
import type { MqttClient, OutboxRuntime } from '@mercado/common/mqtt';
import { ordersErrors } from './errors.js';
import { cartRoutes } from './api/cart-routes.js';
import { ordersRoutes } from './api/orders-routes.js';
import { createProductCatalog } from './clients/products-client.js';
import { createInventoryClient } from './clients/inventory-client.js';
import type { Inventory, OrdersDeps, ProductCatalog } from './domain/deps.js';
import type { OrdersConfig } from './config.js';
import { consumePaymentResults } from './consumers/payment-results.js';
import { consumePaymentStatus } from './consumers/payment-status.js';
import { ordersOutbox } from './data/outbox-repository.js';
import { createOrderSweeper, type OrderSweeper } from './domain/sweeper.js';

export { loadOrdersConfig, ordersSettings, type OrdersConfig } from './config.js';
export { ordersErrors } from './errors.js';
export type { OrdersDeps, ProductCatalog, Inventory, CatalogProduct } from './domain/deps.js';
export type { CartView, CartLineView, CartNotice } from './domain/cart.js';
export type { OrderView, OrderSummaryView } from './domain/views.js';
export { ordersOutbox } from './data/outbox-repository.js';
export { orderTransitions } from './domain/transitions.js';
export { applyPaymentResult, type ResultOutcome } from './domain/payment-results.js';
export { consumePaymentResults } from './consumers/payment-results.js';
export { applyPaymentStatus, type StatusOutcome } from './domain/payment-status.js';
export { consumePaymentStatus } from './consumers/payment-status.js';
export {
  createOrderSweeper,
  sweepOrders,
  type OrderSweeper,
  type SweepDeps,
  type SweepOptions,
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
  /**
   * The replica's lock session for Idempotency-Keys; opened on DATABASE_URL when not given. Give
   * the app the one ordersDeps made: a replica has one, closed once its requests have ended.
   */
  keyLocks?: SessionLocks;
  isShuttingDown?: () => boolean;
}

/** Application name of the replica's lock session (operators find its locks in pg_locks by it). */
export const keyLocksName = 'mercado-orders-keys';

export function ordersDeps({
  config,
  log,
  db,
  catalog,
  inventory,
  keyLocks,
}: OrdersAppDeps): OrdersDeps {
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
    keyLocks: keyLocks ?? openSessionLocks({ url: config.DATABASE_URL, log, name: keyLocksName }),
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

export interface OrdersRuntime {
  config: OrdersConfig;
  log: Logger;
  metrics: Metrics;
  db: Knex;
  mqtt: MqttClient | undefined;
}

export interface OrdersWork {
  /** What shuts down with the service, consumers first. */
  background: BackgroundTask[];
  sweeper: OrderSweeper;
  /** Whether it consumes payments' results and answers (only with a broker). */
  consuming: boolean;
  relaying: boolean;
}

/**
 * Orders' work beside its HTTP app, as main runs it: the outbox relay (every replica relays its
 * share, SKIP LOCKED; none without MQTT_URL), the consumers of payment results and of payments'
 * status answers (one replica of the `orders` share group gets each), and the sweeper, which
 * every replica runs — at once on start, asking payments about every unpaid order (the
 * reconciliation of what happened while this replica did not run), then every SWEEP_INTERVAL_MS.
 * A test passes `sweep: false` and sweeps when it chooses (`sweeper.runOnce()`).
 */
export function startOrdersWork(
  runtime: OrdersRuntime,
  deps: OrdersDeps,
  options: { sweep?: boolean } = {},
): OrdersWork {
  const { config, db, log, mqtt } = runtime;
  const relay = ordersOutbox.startRelay(runtime as OutboxRuntime);
  const consumers = mqtt
    ? [consumePaymentResults({ ...deps, mqtt }), consumePaymentStatus({ ...deps, mqtt })]
    : [];
  const sweeper = createOrderSweeper({
    db,
    log,
    inventory: deps.inventory,
    batchSize: config.SWEEP_BATCH_SIZE,
    checkIntervalSeconds: config.PAYMENT_CHECK_INTERVAL_SECONDS,
    intervalMs: config.SWEEP_INTERVAL_MS,
    idempotencyKeyTtlHours: config.IDEMPOTENCY_KEY_TTL_HOURS,
    guestCartTtlDays: config.GUEST_CART_TTL_DAYS,
  });
  if (options.sweep !== false) sweeper.start();
  return {
    background: [
      ...consumers,
      { name: 'sweeper', stop: () => sweeper.stop() },
      ...(relay ? [relay] : []),
    ],
    sweeper,
    consuming: consumers.length > 0,
    relaying: relay !== undefined,
  };
}
