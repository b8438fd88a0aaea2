import { randomUUID } from 'node:crypto';
import t from 'tap';
import {
  expectCatalogueDocumented,
  expectRefusals,
  refusalsOfAll,
  snapshotTables,
  type OperationExample,
} from '@mercado/common/testing';
import { productsErrors } from '../src/errors.js';
import { createCategory, createProduct, seller, startProducts } from './helpers.js';

const tables = ['products', 'categories'];

/** A valid input for every operation; the sweep derives from each the inputs its spec refuses. */
function examples(productId: string, categoryId: string): Record<string, OperationExample> {
  return {
    'GET /api/products': {
      query: {
        q: 'mesa',
        category: 'zapatos',
        minPrice: '100',
        maxPrice: '5000',
        seller: randomUUID(),
        currency: 'EUR',
        sort: 'price_asc',
        cursor: 'c',
        limit: '10',
      },
    },
    'GET /api/products/{id}': { params: { id: productId } },
    'POST /api/products': {
      body: {
        sku: 'NEW-1',
        name: 'Sandalias',
        description: 'Frescas',
        priceMinor: 1999,
        currency: 'EUR',
        categoryId,
        imageUrls: ['https://img.example/a.jpg'],
        attributes: { color: 'rojo', sizes: ['38', '39'], eco: true, weightG: 300 },
        active: true,
      },
    },
    'PATCH /api/products/{id}': {
      params: { id: productId },
      body: { name: 'Botas', priceMinor: 4999, attributes: { color: 'azul' }, active: false },
    },
    'DELETE /api/products/{id}': { params: { id: productId } },
    'GET /api/categories': {},
    'POST /api/categories': {
      body: { slug: 'sandalias', name: 'Sandalias', parentId: categoryId },
    },
    'PATCH /api/categories/{id}': {
      params: { id: categoryId },
      body: { slug: 'botas', name: 'Botas', parentId: null },
    },
    'DELETE /api/categories/{id}': { params: { id: categoryId } },
    'POST /internal/products/lookup': { body: { ids: [productId] } },
  };
}

t.test("no operation's handler is reached with input its spec refuses", async (t) => {
  const products = await startProducts(t);
  const alice = seller();
  const shoes = await createCategory(products, 'zapatos', 'Zapatos');
  const own = await createProduct(products, alice, { categoryId: shoes.id });
  const before = await snapshotTables(products.db, tables);

  const cases = refusalsOfAll(t, products.operations, examples(own.id, shoes.id));
  await expectRefusals(t, products.call, cases);

  t.same(
    await snapshotTables(products.db, tables),
    before,
    `none of ${cases.length} wrote anything`,
  );
  t.notOk(
    products.logs.lines.some((line) => line.level === 'error'),
    'no refused input reached the server-error path',
  );
});

t.test('the service answers with its own catalogue, documented and in its README', async (t) => {
  const { url } = await startProducts(t);
  await expectCatalogueDocumented(t, url, productsErrors, new URL('../README.md', import.meta.url));
});
