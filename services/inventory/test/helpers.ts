import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  productLookupPath,
  productLookupRequestSchema,
  productLookupResponseSchema,
} from '@mercado/common/contract';
import { verifyIdentity, type Identity } from '@mercado/common/identity';
import { type Knex } from '@mercado/common/db';
import { startAnswerCache } from '@mercado/common/http';
import { type MqttClient } from '@mercado/common/mqtt';
import {
  callService as callKitService,
  type captureLogs,
  type CallOptions,
  type CallResult,
  startTestService,
  testMqttPassword,
  unknownIdCases,
  type HostileInputSweep,
} from '@mercado/common/testing';
import type { DocumentedOperation } from '@mercado/common/http';
import {
  buildInventoryApp,
  inventoryApis,
  inventoryDeps,
  inventoryMigrationsDir,
  startStockAnswers,
  loadInventoryConfig,
  sweepExpiredReservations,
  type CatalogProduct,
  type InventoryConfig,
} from '../src/app.js';

export const internalSecret = 'inventory-test-internal-secret-0123456789abcdef';

interface TestContext {
  teardown(fn: () => unknown): void;
}

export type { CallOptions, CallResult } from '@mercado/common/testing';

/** Calls a service as the gateway (or another service) would: a fresh signed identity per call. */
export function callService(
  baseUrl: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<CallResult> {
  return callKitService(baseUrl, internalSecret, method, path, options);
}

/** Callers, as the gateway signs them. */
export const as = {
  seller: (userId: string): Identity => ({ userId, roles: ['customer', 'seller'] }),
  admin: (userId: string): Identity => ({ userId, roles: ['admin'] }),
  customer: (userId: string): Identity => ({ userId, roles: ['customer'] }),
  anonymous: (): Identity => ({ roles: [] }),
  service: (service = 'orders'): Identity => ({ roles: [], service }),
};

export interface ProductsStandIn {
  url: string;
  /** Adds a product to the catalog and returns it. */
  add(sellerId: string, overrides?: Partial<CatalogProduct>): CatalogProduct;
  lookups: number;
  /** Answer every lookup with this status (e.g. 500) until set back to undefined. */
  failWith: number | undefined;
}

/**
 * Stands in for the products service (not this service's folder): its internal lookup route,
 * answered from a map by the shared contract, accepting only the signed identity of service
 * `inventory`.
 */
export async function startProductsStandIn(t: TestContext): Promise<ProductsStandIn> {
  const products = new Map<string, CatalogProduct>();
  const standIn: ProductsStandIn = {
    url: '',
    lookups: 0,
    failWith: undefined,
    add(sellerId, overrides = {}) {
      const id = overrides.id ?? randomUUID();
      const product: CatalogProduct = {
        id,
        sellerId,
        name: `Product ${id.slice(0, 8)}`,
        sku: `SKU-${id.slice(0, 8)}`,
        priceMinor: 1999,
        currency: 'EUR',
        active: true,
        ...overrides,
      };
      products.set(id, product);
      return product;
    },
  };
  const server = http.createServer(function productsLookup(req, res) {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      let identity: Identity | null;
      try {
        identity = verifyIdentity(req.headers, internalSecret);
      } catch {
        identity = null;
      }
      if (req.method !== 'POST' || req.url !== productLookupPath) {
        send(404, { code: 'not_found' });
        return;
      }
      if (identity?.service !== 'inventory') {
        send(401, { code: 'unauthorized' });
        return;
      }
      standIn.lookups++;
      if (standIn.failWith !== undefined) {
        send(standIn.failWith, { code: 'internal' });
        return;
      }
      // The shared contract on both sides: a request it refuses is a test's mistake, shown as such.
      const request = productLookupRequestSchema.safeParse(JSON.parse(raw));
      if (!request.success) {
        send(400, { code: 'validation_failed' });
        return;
      }
      const items = request.data.ids.flatMap((id) => (products.has(id) ? [products.get(id)!] : []));
      send(200, productLookupResponseSchema.parse({ items }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  standIn.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return standIn;
}

export interface InventoryHarness {
  url: string;
  db: Knex;
  config: InventoryConfig;
  logs: ReturnType<typeof captureLogs>;
  /** The service's MQTT client, as runDatabaseService makes it (with MQTT_URL in `env`). */
  mqtt: MqttClient | undefined;
  products: ProductsStandIn;
  /** Every operation the service answers, as its routers declare them. */
  operations: DocumentedOperation[];
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
  /** One sweep of expired reservations, as a replica's timer runs it. */
  sweep(batchSize?: number): Promise<number>;
}

export interface InventoryOptions {
  /** Another replica: share this database instead of creating a fresh one. */
  databaseUrl?: string;
  /**
   * The channel this replica's stock answers hear changes on (default: the one the database's
   * triggers notify). A channel nobody notifies leaves the replica only its own writes to go by.
   */
  changesChannel?: string;
  /** The products stand-in to share with another replica. */
  products?: ProductsStandIn;
}

/** An inventory service on a fresh database and a free port, beside a products stand-in. */
export async function startInventory(
  t: TestContext,
  env: Record<string, string> = {},
  options: InventoryOptions = {},
): Promise<InventoryHarness> {
  const products = options.products ?? (await startProductsStandIn(t));
  const service = await startTestService(t, {
    name: 'inventory',
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    loadConfig: loadInventoryConfig,
    env: {
      INTERNAL_SECRET: internalSecret,
      PRODUCTS_URLS: products.url,
      MQTT_PASSWORD: testMqttPassword('inventory'),
      ...env,
    },
    migrationsDir: inventoryMigrationsDir,
    async build(runtime) {
      // As in production: a product's rendered stock is kept until its stock changes, so every
      // test also proves that no write is ever answered with a stale figure.
      const answers = options.changesChannel
        ? startAnswerCache({
            config: runtime.config,
            log: runtime.log,
            registry: runtime.metrics.registry,
            channel: options.changesChannel,
            keyed: true,
            name: 'inventory-test-changes',
          })
        : startStockAnswers(runtime);
      if (answers) {
        t.teardown(() => answers.close());
        await answers.feed.ready;
      }
      // Read from routers of their own (without the answer cache, which registers metrics).
      const operations = inventoryApis(inventoryDeps(runtime)).flatMap((api) => api.operations);
      return {
        app: buildInventoryApp({ ...runtime, ...(answers ? { answers } : {}) }),
        extra: { operations },
      };
    },
  });
  const { config, db, logs } = service;
  return {
    ...service,
    products,
    call: (method, path, options) => callService(service.url, method, path, options),
    sweep: (batchSize = config.SWEEP_BATCH_SIZE) =>
      sweepExpiredReservations({ db, log: logs.log, batchSize }),
  };
}

/** Every table of the inventory database. */
export const inventoryTables = [
  'product_settings',
  'stock',
  'stock_movements',
  'reservations',
  'reservation_lines',
  'restocks',
  'outbox',
];

/** Rows of every table, to prove a refused request wrote nothing. */
export async function rowCounts(db: Knex): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of inventoryTables) {
    const [row] = await db(table).count<Array<{ n: string }>>('* as n');
    counts[table] = Number(row!.n);
  }
  return counts;
}

/**
 * The (product, region) rows whose on hand differs from the sum of their ledger: always empty.
 * Also checks each movement's running total against the sum up to it.
 */
export async function ledgerDrift(db: Knex): Promise<unknown[]> {
  const result = await db.raw<{ rows: unknown[] }>(`
    select s.product_id, s.region, s.on_hand, coalesce(sum(m.delta), 0)::int as ledger
      from stock s
      left join stock_movements m using (product_id, region)
     group by s.product_id, s.region, s.on_hand
    having s.on_hand <> coalesce(sum(m.delta), 0)
    union all
    select product_id, region, on_hand_after, running::int
      from (select product_id, region, on_hand_after,
                   sum(delta) over (partition by product_id, region order by id) as running
              from stock_movements) m
     where on_hand_after <> running`);
  return result.rows;
}

export async function stockRow(
  db: Knex,
  productId: string,
  region: string,
): Promise<{ on_hand: number; reserved: number; available: number } | undefined> {
  return db('stock')
    .where({ product_id: productId, region })
    .first('on_hand', 'reserved', 'available');
}

/** The hostile-input sweep of the inventory service, with data to refuse changes to. */
export async function prepareInventorySweep(
  inventory: InventoryHarness,
): Promise<HostileInputSweep> {
  const sellerId = randomUUID();
  const product = inventory.products.add(sellerId);
  const region = inventory.config.REGIONS[0]!;
  const seller = as.seller(sellerId);
  const stocked = await inventory.call('PUT', `/api/inventory/${product.id}/${region}`, {
    identity: seller,
    body: { onHand: 10, reason: 'count' },
  });
  const reserved = await inventory.call('POST', '/internal/reservations', {
    identity: as.service(),
    body: { orderId: 'order-1', region, lines: [{ productId: product.id, quantity: 2 }] },
  });
  if (stocked.status !== 200 || reserved.status !== 201) {
    throw new Error(`stocking gave ${stocked.status}, reserving ${reserved.status}`);
  }
  const unknown = randomUUID();
  const change = { delta: 1, reason: 'found' };
  const orders = as.service();
  // The first two ask the catalog.
  const unknownIds = unknownIdCases([
    ['PUT', `/api/inventory/${unknown}/${region}`, seller, change, 422, 'unknown_product'],
    ['PUT', `/api/inventory/${product.id}/atlantis`, seller, change, 422, 'unknown_region'],
    ['GET', '/internal/reservations/order-404', orders, undefined, 404, 'reservation_not_found'],
    [
      'POST',
      '/internal/reservations/order-404/commit',
      orders,
      undefined,
      404,
      'reservation_not_found',
    ],
    [
      'POST',
      '/internal/reservations/order-404/release',
      orders,
      undefined,
      404,
      'reservation_not_found',
    ],
    [
      'POST',
      '/internal/reservations/order-404/restock',
      orders,
      { restockId: randomUUID(), lines: [{ productId: unknown, quantity: 1 }] },
      404,
      'reservation_not_found',
    ],
    [
      'POST',
      '/internal/reservations',
      orders,
      { orderId: 'order-2', region, lines: [{ productId: unknown, quantity: 1 }] },
      409,
      'insufficient_stock',
    ],
  ]);
  const productId = product.id;
  return {
    tables: inventoryTables,
    examples: {
      'GET /api/inventory/low-stock': { query: { region, limit: '10', cursor: 'c' } },
      'GET /api/inventory/{productId}': { params: { productId } },
      'PUT /api/inventory/{productId}/{region}': {
        params: { productId, region },
        body: { delta: 5, reason: 'received', lowStockThreshold: 2 },
      },
      'POST /internal/reservations': {
        body: { orderId: 'order-9', region, lines: [{ productId, quantity: 1 }], ttlSeconds: 600 },
      },
      'GET /internal/reservations/{orderId}': { params: { orderId: 'order-1' } },
      'POST /internal/reservations/{orderId}/commit': { params: { orderId: 'order-1' } },
      'POST /internal/reservations/{orderId}/release': { params: { orderId: 'order-1' } },
      'POST /internal/reservations/{orderId}/restock': {
        params: { orderId: 'order-1' },
        body: { restockId: randomUUID(), lines: [{ productId, quantity: 1 }] },
      },
    },
    unknownIds,
    rawPaths: [`/api/inventory/${productId}`, '/internal/reservations'],
  };
}
