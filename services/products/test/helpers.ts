import { randomUUID } from 'node:crypto';
import { type Identity } from '@mercado/common/identity';
import { type Knex } from '@mercado/common/db';
import {
  callService,
  type CallOptions,
  type CallResult,
  type captureLogs,
  startTestService,
  unknownIdCases,
  type HostileInputSweep,
} from '@mercado/common/testing';
import type { DocumentedOperation } from '@mercado/common/http';
import {
  buildProductsApp,
  startCatalogAnswers,
  loadProductsConfig,
  productsApis,
  productsDeps,
  productsMigrationsDir,
  type ProductsConfig,
} from '../src/app.js';

export const internalSecret = 'test-internal-secret-that-is-long-enough-0123456789';

interface TestContext {
  teardown(fn: () => unknown): void;
}

export type { CallOptions, CallResult } from '@mercado/common/testing';

export interface ProductsHarness {
  url: string;
  db: Knex;
  config: ProductsConfig;
  logs: ReturnType<typeof captureLogs>;
  /** Every operation the service answers, as its routers declare them. */
  operations: DocumentedOperation[];
  /** Calls the service as the gateway would, with a signed identity. */
  call(method: string, path: string, options?: CallOptions): Promise<CallResult>;
}

/**
 * A products service on a fresh, migrated database and a free port; given `databaseUrl`, another
 * replica on that database.
 */
export async function startProducts(
  t: TestContext,
  env: Record<string, string> = {},
  databaseUrl?: string,
): Promise<ProductsHarness> {
  const service = await startTestService(t, {
    name: 'products',
    ...(databaseUrl ? { databaseUrl } : {}),
    loadConfig: loadProductsConfig,
    env: { INTERNAL_SECRET: internalSecret, ...env },
    migrationsDir: productsMigrationsDir,
    // As in production: rendered public reads are kept until the catalog changes, so every test
    // here also checks that a kept answer never outlives a write.
    async build(runtime) {
      const answers = startCatalogAnswers(runtime);
      if (answers) {
        t.teardown(() => answers.close());
        await answers.feed.ready;
      }
      const deps = { ...runtime, ...(answers ? { answers } : {}) };
      // Read from routers of their own (without the answer cache, which registers metrics).
      const operations = productsApis(productsDeps(runtime)).flatMap((api) => api.operations);
      return { app: buildProductsApp(deps), extra: { operations } };
    },
  });
  return {
    ...service,
    call: (method, path, options = {}) =>
      callService(service.url, internalSecret, method, path, {
        ...options,
        identity: options.identity ?? { roles: [], ip: '203.0.113.7' },
      }),
  };
}

/** Identities as the gateway signs them. */
export function seller(userId: string = randomUUID()): Identity & { userId: string } {
  return { userId, roles: ['customer', 'seller'], ip: '203.0.113.20' };
}

export function admin(userId: string = randomUUID()): Identity & { userId: string } {
  return { userId, roles: ['admin'], ip: '203.0.113.30' };
}

export function customer(userId: string = randomUUID()): Identity & { userId: string } {
  return { userId, roles: ['customer'], ip: '203.0.113.40' };
}

/** Another Mercado service calling directly, as createServiceClient signs it. */
export function service(name: string): Identity {
  return { roles: [], service: name };
}

export interface ProductFields {
  sku?: string;
  name?: string;
  description?: string;
  priceMinor?: number;
  currency?: string;
  categoryId?: string | null;
  imageUrls?: string[];
  attributes?: Record<string, unknown>;
  active?: boolean;
}

let skuCounter = 0;

/** Lists a product through the API and returns its body; fails the test on anything but 201. */
export async function createProduct(
  products: ProductsHarness,
  identity: Identity,
  fields: ProductFields = {},
): Promise<any> {
  const response = await products.call('POST', '/api/products', {
    identity,
    body: {
      sku: `SKU-${++skuCounter}`,
      name: `Product ${skuCounter}`,
      priceMinor: 1000,
      currency: 'EUR',
      ...fields,
    },
  });
  if (response.status !== 201) {
    throw new Error(`creating a product gave ${response.status}: ${JSON.stringify(response.body)}`);
  }
  return response.body;
}

/** Creates a category through the API as an admin and returns its body. */
export async function createCategory(
  products: ProductsHarness,
  slug: string,
  name: string,
  parentId: string | null = null,
): Promise<any> {
  const response = await products.call('POST', '/api/categories', {
    identity: admin(),
    body: { slug, name, parentId },
  });
  if (response.status !== 201) {
    throw new Error(
      `creating a category gave ${response.status}: ${JSON.stringify(response.body)}`,
    );
  }
  return response.body;
}

/** Row counts of every catalog table: what a rejected request must leave unchanged. */
export async function counts(products: ProductsHarness): Promise<Record<string, number>> {
  const [p] = await products.db('products').count('* as n');
  const [c] = await products.db('categories').count('* as n');
  const [a] = await products.db('products').where({ active: true }).count('* as n');
  return { products: Number(p!.n), categories: Number(c!.n), active: Number(a!.n) };
}

/** The hostile-input sweep of the products service, with data to refuse changes to. */
export async function prepareProductsSweep(products: ProductsHarness): Promise<HostileInputSweep> {
  const alice = seller();
  const boss = admin();
  const shoes = await createCategory(products, 'zapatos', 'Zapatos');
  const own = await createProduct(products, alice, { categoryId: shoes.id });
  const unknown = randomUUID();
  const valid = { sku: 'NEW-1', name: 'Sandalias', priceMinor: 1999, currency: 'EUR' };
  const unknownIds = unknownIdCases([
    ['GET', `/api/products/${unknown}`, alice, undefined, 404, 'not_found'],
    ['PATCH', `/api/products/${unknown}`, alice, { name: 'X' }, 404, 'not_found'],
    ['DELETE', `/api/products/${unknown}`, alice, undefined, 404, 'not_found'],
    ['POST', '/api/products', alice, { ...valid, categoryId: unknown }, 422, 'unknown_category'],
    ['PATCH', `/api/categories/${unknown}`, boss, { name: 'X' }, 404, 'not_found'],
    ['DELETE', `/api/categories/${unknown}`, boss, undefined, 404, 'not_found'],
    [
      'POST',
      '/api/categories',
      boss,
      { slug: 'x', name: 'X', parentId: unknown },
      422,
      'unknown_category',
    ],
  ]);
  return {
    tables: ['products', 'categories'],
    examples: {
      'GET /api/products': {
        query: {
          q: 'mesa',
          category: 'zapatos',
          minPrice: '100',
          maxPrice: '5000',
          seller: alice.userId,
          currency: 'EUR',
          sort: 'price_asc',
          cursor: 'c',
          limit: '10',
        },
      },
      'GET /api/products/{id}': { params: { id: own.id } },
      'POST /api/products': {
        body: {
          sku: 'NEW-1',
          name: 'Sandalias',
          description: 'Frescas',
          priceMinor: 1999,
          currency: 'EUR',
          categoryId: shoes.id,
          imageUrls: ['https://img.example/a.jpg'],
          attributes: { color: 'rojo', sizes: ['38', '39'], eco: true, weightG: 300 },
          active: true,
        },
      },
      'PATCH /api/products/{id}': {
        params: { id: own.id },
        body: { name: 'Botas', priceMinor: 4999, attributes: { color: 'azul' }, active: false },
      },
      'DELETE /api/products/{id}': { params: { id: own.id } },
      'GET /api/categories': {},
      'POST /api/categories': {
        body: { slug: 'sandalias', name: 'Sandalias', parentId: shoes.id },
      },
      'PATCH /api/categories/{id}': {
        params: { id: shoes.id },
        body: { slug: 'botas', name: 'Botas', parentId: null },
      },
      'DELETE /api/categories/{id}': { params: { id: shoes.id } },
      'POST /internal/products/lookup': { body: { ids: [own.id] } },
    },
    unknownIds,
    rawPaths: ['/api/products', `/api/products/${own.id}`, '/internal/products/lookup'],
  };
}
