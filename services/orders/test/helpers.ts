import { randomUUID } from 'node:crypto';
import { type Identity } from '@mercado/common/identity';
import { type Knex } from '@mercado/common/db';
import type { DocumentedOperation } from '@mercado/common/http';
import type { MqttClient } from '@mercado/common/mqtt';
import {
  callService,
  startTestService,
  testMqttPassword,
  type CallOptions,
  type CallResult,
  type captureLogs,
} from '@mercado/common/testing';
import {
  createProduct,
  internalSecret as productsSecret,
  startProducts,
  type ProductFields,
  type ProductsHarness,
} from '@mercado/products/testing';
import { startInventory, type InventoryHarness } from '@mercado/inventory/testing';
import {
  buildOrdersApp,
  loadOrdersConfig,
  ordersApis,
  ordersDeps,
  ordersMigrationsDir,
  type OrdersConfig,
} from '../src/app.js';

/** One secret for the whole shop under test, as the gateway and every service share it. */
export const internalSecret = productsSecret;

interface TestContext {
  teardown(fn: () => unknown): void;
}

export type { CallOptions, CallResult } from '@mercado/common/testing';

/** Callers, as the gateway signs them. */
export const as = {
  customer: (userId: string = randomUUID()): Identity & { userId: string } => ({
    userId,
    roles: ['customer'],
  }),
  seller: (userId: string = randomUUID()): Identity & { userId: string } => ({
    userId,
    roles: ['customer', 'seller'],
  }),
  admin: (userId: string = randomUUID()): Identity & { userId: string } => ({
    userId,
    roles: ['admin'],
  }),
  guest: (): Identity => ({ roles: [] }),
};

export interface OrdersHarness {
  url: string;
  db: Knex;
  config: OrdersConfig;
  logs: ReturnType<typeof captureLogs>;
  mqtt: MqttClient | undefined;
  /** Every operation the service answers, as its routers declare them. */
  operations: DocumentedOperation[];
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
}

/** The orders service on a fresh database and a free port; `env` names products and inventory. */
export async function startOrders(
  t: TestContext,
  env: Record<string, string>,
  options: { databaseUrl?: string } = {},
): Promise<OrdersHarness> {
  const service = await startTestService(t, {
    name: 'orders',
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    loadConfig: loadOrdersConfig,
    env: { INTERNAL_SECRET: internalSecret, MQTT_PASSWORD: testMqttPassword('orders'), ...env },
    migrationsDir: ordersMigrationsDir,
    build(runtime) {
      const operations = ordersApis(ordersDeps(runtime)).flatMap((api) => api.operations);
      return { app: buildOrdersApp(runtime), extra: { operations } };
    },
  });
  return {
    ...service,
    call: (method, path, options = {}) =>
      callService(service.url, internalSecret, method, path, options),
  };
}

export interface Shop {
  products: ProductsHarness;
  inventory: InventoryHarness;
  orders: OrdersHarness;
  /** Calls inventory directly (signed with the shop's secret). */
  callInventory(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  /**
   * Lists a product (by a new seller unless one is given) and stocks it: `stock` per region.
   * Returns the catalog's product.
   */
  sell(options?: ProductFields & { stock?: Record<string, number>; sellerId?: string }): Promise<{
    id: string;
    sellerId: string;
    priceMinor: number;
    currency: string;
    name: string;
    sku: string;
  }>;
  /** Sets a product's stock on hand in a region, as its seller. */
  stock(product: { id: string; sellerId: string }, region: string, onHand: number): Promise<void>;
}

/**
 * A whole shop behind the orders service, each part real: products and inventory from their test
 * exports (inventory asking the real products service who owns what), each on its own database,
 * and orders calling both. `env` goes to orders.
 */
export async function startShop(
  t: TestContext,
  env: Record<string, string> = {},
  options: { databaseUrl?: string } = {},
): Promise<Shop> {
  const products = await startProducts(t);
  const inventory = await startInventory(t, {
    INTERNAL_SECRET: internalSecret,
    PRODUCTS_URLS: products.url,
  });
  const orders = await startOrders(
    t,
    { PRODUCTS_URLS: products.url, INVENTORY_URLS: inventory.url, ...env },
    options,
  );
  const callInventory = (method: string, path: string, options: CallOptions = {}) =>
    callService(inventory.url, internalSecret, method, path, options);
  const stock: Shop['stock'] = async (product, region, onHand) => {
    const response = await callInventory('PUT', `/api/inventory/${product.id}/${region}`, {
      identity: as.seller(product.sellerId),
      body: { onHand, reason: 'count' },
    });
    if (response.status !== 200) {
      throw new Error(`stocking gave ${response.status}: ${JSON.stringify(response.body)}`);
    }
  };
  return {
    products,
    inventory,
    orders,
    callInventory,
    stock,
    async sell({ stock: levels = { north: 10 }, sellerId = randomUUID(), ...fields } = {}) {
      const product = await createProduct(products, as.seller(sellerId), fields);
      for (const [region, onHand] of Object.entries(levels)) await stock(product, region, onHand);
      return product;
    },
  };
}

/** Every table of the orders database. */
export const ordersTables = ['carts', 'cart_lines'];
