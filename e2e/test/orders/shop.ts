import { randomUUID } from 'node:crypto';
import type { Identity } from '@mercado/common/identity';
import {
  callService,
  unknownIdCases,
  type CallOptions,
  type CallResult,
  type HostileInputSweep,
} from '@mercado/common/testing';
import { startInventory, type InventoryHarness } from '@mercado/inventory/testing';
import {
  address,
  as,
  ordersTables,
  startOrders,
  type OrdersHarness,
  type OrdersOptions,
} from '@mercado/orders/testing';
import {
  createProduct,
  internalSecret,
  startProducts,
  type ProductFields,
  type ProductsHarness,
} from '@mercado/products/testing';

/**
 * The orders service with the real products and inventory services behind it, each started
 * through its test export on a database of its own: what orders' tests need running. They live
 * here, not in services/orders, because a service never imports another, not even in its tests.
 */

export * from '@mercado/orders/testing';

interface TestContext {
  teardown(fn: () => unknown): void;
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
  options: OrdersOptions = {},
): Promise<Shop> {
  const products = await startProducts(t);
  const inventory = await startInventory(t, {
    INTERNAL_SECRET: internalSecret,
    PRODUCTS_URLS: products.url,
  });
  // One secret for the whole shop, as the gateway and every service share it.
  const orders = await startOrders(
    t,
    {
      INTERNAL_SECRET: internalSecret,
      PRODUCTS_URLS: products.url,
      INVENTORY_URLS: inventory.url,
      ...env,
    },
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
      'GET /api/orders/sold': {
        query: { status: 'paid', seller: randomUUID(), limit: '10', cursor: 'c' },
      },
      'GET /api/orders/{id}': { params: { id } },
      'POST /api/orders/{id}/cancel': { params: { id } },
      'POST /api/orders/{id}/ship': { params: { id } },
      'POST /api/orders/{id}/deliver': { params: { id } },
      'POST /api/orders/{id}/refund': {
        params: { id },
        body: { amountMinor: 100, reason: 'damaged', restock: [{ productId, quantity: 1 }] },
      },
    },
    unknownIds,
    rawPaths: ['/api/cart', '/api/cart/items', '/api/orders', `/api/orders/${id}`],
  };
}
