import { randomUUID } from 'node:crypto';
import { type Identity } from '@mercado/common/identity';
import { type Knex } from '@mercado/common/db';
import type { DocumentedOperation } from '@mercado/common/http';
import type { PaymentResult } from '@mercado/common/contract';
import { createMetrics } from '@mercado/common/metrics';
import { connectMqtt, type MqttClient } from '@mercado/common/mqtt';
import {
  callService,
  captureLogs,
  startTestService,
  testBrokerCredentials,
  testMqttPassword,
  testServiceMqttCredentials,
  unknownIdCases,
  type CallOptions,
  type CallResult,
  type HostileInputSweep,
} from '@mercado/common/testing';
import { createMercadoBroker, loadBrokerConfig, startListeners } from '@mercado/broker/testing';
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
  consumePaymentResults,
  loadOrdersConfig,
  ordersApis,
  ordersDeps,
  ordersMigrationsDir,
  ordersOutbox,
  sweepOrders,
  type OrdersConfig,
  type SweepResult,
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
  /** One sweep, as a replica's timer runs it. */
  sweep(): Promise<SweepResult>;
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
      const deps = ordersDeps(runtime);
      const operations = ordersApis(deps).flatMap((api) => api.operations);
      // As main.ts wires them, when the test gives a broker: the relay and the results consumer.
      const relay = ordersOutbox.startRelay({ ...runtime, metrics: createMetrics('orders-relay') });
      const results = runtime.mqtt
        ? consumePaymentResults({ ...deps, mqtt: runtime.mqtt })
        : undefined;
      t.teardown(async function stopBackground() {
        await results?.stop();
        await relay?.stop();
      });
      const sweep = () =>
        sweepOrders({
          db: runtime.db,
          log: runtime.log,
          inventory: deps.inventory,
          batchSize: runtime.config.SWEEP_BATCH_SIZE,
          idempotencyKeyTtlHours: runtime.config.IDEMPOTENCY_KEY_TTL_HOURS,
          guestCartTtlDays: runtime.config.GUEST_CART_TTL_DAYS,
        });
      return { app: buildOrdersApp(runtime), extra: { operations, sweep } };
    },
  });
  return {
    ...service,
    call: (method, path, options = {}) =>
      callService(service.url, internalSecret, method, path, options),
  };
}

/** Mercado's real broker in this process, on a free port; its MQTT URL. */
export async function startBroker(t: TestContext): Promise<string> {
  const config = loadBrokerConfig({
    INTERNAL_SECRET: internalSecret,
    ...testBrokerCredentials(),
    JWKS_URL: 'http://127.0.0.1:1/jwks.json',
    MQTT_PORT: '0',
    PORT: '0',
  });
  const { log } = captureLogs('broker');
  const metrics = createMetrics('broker');
  const broker = await createMercadoBroker({ config, log, metrics });
  const listeners = await startListeners(broker, { config, log, metrics });
  t.teardown(async function stopBroker() {
    await broker.close();
    await listeners.close();
  });
  return listeners.mqttUrl;
}

export interface Heard {
  topic: string;
  payload: Record<string, any>;
}

/** What a contract service hears on the broker, and a way to wait for a message. */
export interface Listener {
  client: MqttClient;
  heard: Heard[];
  /** The first message (heard already, or to come) that `matches`. */
  next(matches: (message: Heard) => boolean): Promise<Heard>;
}

/** Connects as `service` (its test credentials) and subscribes to `filters`. */
export async function listenAs(
  t: TestContext,
  mqttUrl: string,
  service: 'payments' | 'gateway',
  filters: string[],
): Promise<Listener> {
  const client = await connectMqtt(mqttUrl, {
    clientId: `${service}-${randomUUID()}`,
    ...testServiceMqttCredentials(service),
    reconnectPeriod: 0,
  });
  t.teardown(() => client.endAsync(true));
  const heard: Heard[] = [];
  const waiting: Array<{
    matches: (message: Heard) => boolean;
    resolve: (message: Heard) => void;
  }> = [];
  client.on('message', function hear(topic, payload) {
    const message = { topic, payload: JSON.parse(payload.toString('utf8')) };
    heard.push(message);
    for (const waiter of [...waiting]) {
      if (waiter.matches(message)) {
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  for (const filter of filters) await client.subscribeAsync(filter, { qos: 1 });
  return {
    client,
    heard,
    next(matches) {
      const found = heard.find(matches);
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => waiting.push({ matches, resolve }));
    },
  };
}

/** Publishes a payment result as the payments service does (QoS 1, the contract's topic). */
export async function publishResult(
  payments: Listener,
  result: Partial<PaymentResult> & Pick<PaymentResult, 'type' | 'orderId'>,
): Promise<PaymentResult> {
  const full: PaymentResult = {
    id: randomUUID(),
    requestId: `req-${randomUUID()}`,
    at: new Date().toISOString(),
    ...result,
  };
  await payments.client.publishAsync(`payments/results/${full.orderId}`, JSON.stringify(full), {
    qos: 1,
  });
  return full;
}

/** Re-checks `condition` until it holds: for a row or a log line another process writes. */
export async function eventually<T>(
  condition: () => Promise<T | undefined | false> | T | undefined | false,
): Promise<T> {
  for (;;) {
    const value = await condition();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
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
export const ordersTables = [
  'carts',
  'cart_lines',
  'orders',
  'order_lines',
  'order_history',
  'idempotency_keys',
  'outbox',
  'inbox',
  'payment_attempts',
  'refunds',
];

export const address = {
  name: 'Ana Pérez',
  line1: 'Calle Mayor 1',
  city: 'Madrid',
  postalCode: '28013',
  country: 'ES',
};

/** Fills the user's cart with `lines` and checks out under `key`. */
export async function checkout(
  shop: Shop,
  user: Identity,
  lines: Array<{ productId: string; quantity: number }>,
  key: string = randomUUID(),
): Promise<CallResult> {
  for (const line of lines) {
    const added = await shop.orders.call('POST', '/api/cart/items', { identity: user, body: line });
    if (added.status !== 200)
      throw new Error(`adding gave ${added.status}: ${JSON.stringify(added.body)}`);
  }
  return placeOrder(shop, user, key);
}

/** Checks out the user's cart under `key`. */
export function placeOrder(
  shop: Shop,
  user: Identity,
  key: string,
  body: unknown = { shippingAddress: address },
): Promise<CallResult> {
  return shop.orders.call('POST', '/api/orders', {
    identity: user,
    headers: { 'idempotency-key': key },
    body,
  });
}

/** How many rows `table` holds. */
export async function countRows(db: Knex, table: string): Promise<number> {
  const [row] = await db(table).count<Array<{ n: string }>>('* as n');
  return Number(row!.n);
}

/** The hostile-input sweep of the orders service, with a cart and an order to refuse changes to. */
export async function prepareOrdersSweep(shop: Shop): Promise<HostileInputSweep> {
  const lamp = await shop.sell({ stock: { north: 10 } });
  const ana = as.customer();
  const placed = await checkout(shop, ana, [{ productId: lamp.id, quantity: 1 }]);
  const added = await shop.orders.call('POST', '/api/cart/items', {
    identity: ana,
    body: { productId: lamp.id, quantity: 1 },
  });
  if (placed.status !== 201 || added.status !== 200) {
    throw new Error(`checkout gave ${placed.status}, adding ${added.status}`);
  }
  const id = placed.body.id;
  const unknown = randomUUID();
  const admin = as.admin();
  const unknownIds = unknownIdCases([
    ['GET', `/api/orders/${unknown}`, ana, undefined, 404, 'order_not_found'],
    ['POST', `/api/orders/${unknown}/cancel`, ana, undefined, 404, 'order_not_found'],
    ['POST', `/api/orders/${unknown}/ship`, admin, undefined, 404, 'order_not_found'],
    ['POST', `/api/orders/${unknown}/deliver`, admin, undefined, 404, 'order_not_found'],
    ['PATCH', `/api/cart/items/${unknown}`, ana, { quantity: 1 }, 404, 'line_not_found'],
    ['DELETE', `/api/cart/items/${unknown}`, ana, undefined, 404, 'line_not_found'],
    ['POST', '/api/cart/items', ana, { productId: unknown, quantity: 1 }, 422, 'product_not_found'],
    ['PATCH', '/api/cart', ana, { region: 'atlantis' }, 422, 'unknown_region'],
  ]);
  const productId = lamp.id;
  return {
    tables: ordersTables,
    examples: {
      'GET /api/cart': {},
      'PATCH /api/cart': { body: { region: 'north' } },
      'POST /api/cart/items': { body: { productId, quantity: 2 } },
      'PATCH /api/cart/items/{productId}': { params: { productId }, body: { quantity: 2 } },
      'DELETE /api/cart/items/{productId}': { params: { productId } },
      'POST /api/orders': { body: { shippingAddress: { ...address, line2: 'Piso 2' } } },
      'GET /api/orders': { query: { status: 'paid', limit: '10', cursor: 'c' } },
      'GET /api/orders/{id}': { params: { id } },
      'POST /api/orders/{id}/cancel': { params: { id } },
      'POST /api/orders/{id}/ship': { params: { id } },
      'POST /api/orders/{id}/deliver': { params: { id } },
    },
    unknownIds,
    rawPaths: ['/api/cart', '/api/cart/items', '/api/orders', `/api/orders/${id}`],
  };
}
