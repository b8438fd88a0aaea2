import { randomUUID } from 'node:crypto';
import t from 'tap';
import { answerCacheLookups } from '@mercado/common/testing';
import { as, startInventory, type InventoryHarness } from './helpers.js';

const lookups = (service: { url: string }) => answerCacheLookups(service.url);

async function available(inventory: InventoryHarness, productId: string, region = 'north') {
  const response = await inventory.call('GET', `/api/inventory/${productId}`);
  return (response.body.regions as Array<{ region: string; available: number }>).find(
    (row) => row.region === region,
  )!.available;
}

/** Reads until `done` holds: a notification from the database takes a moment to arrive. */
async function eventually(read: () => Promise<number>, done: (value: number) => boolean) {
  let value = await read();
  for (let attempt = 0; attempt < 200 && !done(value); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  return value;
}

async function stock(inventory: InventoryHarness, sellerId: string, productId: string, n: number) {
  const response = await inventory.call('PUT', `/api/inventory/${productId}/north`, {
    identity: as.seller(sellerId),
    body: { onHand: n, reason: 'count' },
  });
  if (response.status !== 200) throw new Error(`stock: ${response.status}`);
}

const orders = as.service('orders');

t.test('a repeated stock read is answered from memory, byte for byte', async (t) => {
  const inventory = await startInventory(t);
  const sellerId = randomUUID();
  const { id: productId } = inventory.products.add(sellerId);
  await stock(inventory, sellerId, productId, 8);

  const first = await inventory.call('GET', `/api/inventory/${productId}`);
  const before = await lookups(inventory);
  const second = await inventory.call('GET', `/api/inventory/${productId}`);
  const after = await lookups(inventory);
  t.equal(after.hit, before.hit + 1, 'the second read was a hit');
  t.same(second.body, first.body, 'the same answer');
  t.equal(second.headers.get('etag'), first.headers.get('etag'), 'the same ETag');
  t.equal(
    second.headers.get('cache-control'),
    'public, no-cache',
    'any cache may store it, none may reuse it unrevalidated (the gateway micro-cache skips it)',
  );
  const revalidated = await inventory.call('GET', `/api/inventory/${productId}`, {
    headers: { 'if-none-match': first.headers.get('etag')! },
  });
  t.equal(revalidated.status, 304, 'a revalidation with the ETag costs no body');

  const upper = await inventory.call('GET', `/api/inventory/${productId.toUpperCase()}`);
  t.equal(upper.status, 200, 'an upper-case id reads the same stock');
  await stock(inventory, sellerId, productId, 9);
  const changed = await inventory.call('GET', `/api/inventory/${productId.toUpperCase()}`);
  t.equal(changed.body.regions[0].available, 9, 'and its answer is retired by the write as well');
});

t.test('a replica reads its own writes at once, before any notification', async (t) => {
  // This replica hears no notification at all: its own writes are all it goes by, so every
  // fresh figure below comes from the write path retiring the answer, not from the database.
  const inventory = await startInventory(t, {}, { changesChannel: 'nobody_notifies' });
  const sellerId = randomUUID();
  const { id: productId } = inventory.products.add(sellerId);
  const { id: otherId } = inventory.products.add(sellerId);
  await stock(inventory, sellerId, productId, 10);
  await stock(inventory, sellerId, otherId, 10);

  const warm = async () => {
    await available(inventory, productId);
    const before = await lookups(inventory);
    const figure = await available(inventory, productId);
    t.equal((await lookups(inventory)).hit, before.hit + 1, 'kept before the write');
    return figure;
  };

  t.equal(await warm(), 10);
  await stock(inventory, sellerId, productId, 12);
  t.equal(await available(inventory, productId), 12, 'a stock change is read back at once');

  t.equal(await warm(), 12);
  const reserve = (orderId: string, productIds: string[]) =>
    inventory.call('POST', '/internal/reservations', {
      identity: orders,
      body: {
        orderId,
        region: 'north',
        lines: productIds.map((id) => ({ productId: id, quantity: 2 })),
      },
    });
  t.equal((await reserve('order-a', [productId])).status, 201);
  t.equal(await available(inventory, productId), 10, 'a reservation is read back at once');

  t.equal(await warm(), 10);
  const commit = await inventory.call('POST', '/internal/reservations/order-a/commit', {
    identity: orders,
  });
  t.equal(commit.status, 200);
  const afterCommit = await inventory.call('GET', `/api/inventory/${productId}`);
  t.equal(afterCommit.body.regions[0].onHand, 10, 'a commit is read back at once (on hand)');

  t.equal((await reserve('order-b', [productId])).status, 201);
  t.equal(await warm(), 8);
  const release = await inventory.call('POST', '/internal/reservations/order-b/release', {
    identity: orders,
  });
  t.equal(release.status, 200);
  t.equal(await available(inventory, productId), 10, 'a release is read back at once');

  t.equal(await warm(), 10);
  t.equal((await reserve('order-c', [otherId])).status, 201);
  const before = await lookups(inventory);
  t.equal(await available(inventory, productId), 10);
  t.equal(
    (await lookups(inventory)).hit,
    before.hit + 1,
    "another product's write leaves this product's answer kept",
  );

  const refused = await reserve('order-d', [productId, productId]);
  t.equal(refused.status, 400, 'a refused write');
  t.equal(await available(inventory, productId), 10, 'changes nothing');
});

t.test(
  'another replica, the sweeper and an operator retire a kept answer once notified',
  async (t) => {
    const a = await startInventory(t);
    const b = await startInventory(
      t,
      {},
      { databaseUrl: a.config.DATABASE_URL, products: a.products },
    );
    const sellerId = randomUUID();
    const { id: productId } = a.products.add(sellerId);
    await stock(a, sellerId, productId, 5);
    t.equal(
      await eventually(
        () => available(b, productId),
        (n) => n === 5,
      ),
      5,
    );
    // b may have read the new stock before a's notification reached it, which then retires what
    // b kept: read until a read is answered from b's cache (the event itself, not a delay).
    let kept = false;
    for (let attempt = 0; attempt < 200 && !kept; attempt++) {
      const before = await lookups(b);
      await available(b, productId);
      kept = (await lookups(b)).hit === before.hit + 1;
    }
    t.ok(kept, 'replica b keeps the answer');

    await stock(a, sellerId, productId, 7);
    t.equal(
      await eventually(
        () => available(b, productId),
        (n) => n === 7,
      ),
      7,
      "a write through replica a reaches b's answer",
    );

    const reserved = await a.call('POST', '/internal/reservations', {
      identity: orders,
      body: {
        orderId: 'order-x',
        region: 'north',
        lines: [{ productId, quantity: 3 }],
        ttlSeconds: 60,
      },
    });
    t.equal(reserved.status, 201);
    t.equal(
      await eventually(
        () => available(b, productId),
        (n) => n === 4,
      ),
      4,
      'a reservation',
    );

    await a
      .db('reservations')
      .where({ order_id: 'order-x' })
      .update({ expires_at: new Date(0) });
    t.equal(await a.sweep(), 1, 'the sweeper released the expired reservation');
    t.equal(
      await eventually(
        () => available(b, productId),
        (n) => n === 7,
      ),
      7,
      'the sweep reaches every replica',
    );

    await a.db('product_settings').where({ product_id: productId }).update({
      low_stock_threshold: 6,
    });
    const read = async () =>
      (await b.call('GET', `/api/inventory/${productId}`)).body.lowStockThreshold as number;
    t.equal(await eventually(read, (n) => n === 6), 6, "an operator's SQL reaches it too");
  },
);
