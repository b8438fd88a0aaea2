import { randomUUID } from 'node:crypto';
import t from 'tap';
import {
  expectCatalogueDocumented,
  expectRefusals,
  refusalsOfAll,
  snapshotTables,
  type OperationExample,
} from '@mercado/common/testing';
import { inventoryErrors } from '../src/errors.js';
import { as, inventoryTables as tables, startInventory } from './helpers.js';

/** A valid input for every operation; the sweep derives from each the inputs its spec refuses. */
function examples(productId: string, region: string): Record<string, OperationExample> {
  return {
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
  };
}

t.test("no operation's handler is reached with input its spec refuses", async (t) => {
  const inventory = await startInventory(t);
  const sellerId = randomUUID();
  const product = inventory.products.add(sellerId);
  const region = inventory.config.REGIONS[0]!;
  const stocked = await inventory.call('PUT', `/api/inventory/${product.id}/${region}`, {
    identity: as.seller(sellerId),
    body: { onHand: 10, reason: 'count' },
  });
  t.equal(stocked.status, 200);
  const reserved = await inventory.call('POST', '/internal/reservations', {
    identity: as.service(),
    body: { orderId: 'order-1', region, lines: [{ productId: product.id, quantity: 2 }] },
  });
  t.equal(reserved.status, 201);
  const before = await snapshotTables(inventory.db, tables);
  const lookups = inventory.products.lookups;

  const cases = refusalsOfAll(t, inventory.operations, examples(product.id, region));
  await expectRefusals(t, inventory.call, cases);

  t.same(
    await snapshotTables(inventory.db, tables),
    before,
    `none of ${cases.length} wrote anything`,
  );
  t.equal(inventory.products.lookups, lookups, 'nor asked the catalog anything');
  t.notOk(
    inventory.logs.lines.some((line) => line.level === 'error'),
    'no refused input reached the server-error path',
  );
});

t.test('the service answers with its own catalogue, documented and in its README', async (t) => {
  const { url } = await startInventory(t);
  await expectCatalogueDocumented(
    t,
    url,
    inventoryErrors,
    new URL('../README.md', import.meta.url),
  );
});
