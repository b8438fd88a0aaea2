import { randomUUID } from 'node:crypto';
import t from 'tap';
import { expectRefusals, type RefusalCase } from '@mercado/common/testing';
import { as, ledgerDrift, rowCounts, startInventory, type InventoryHarness } from './helpers.js';

const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function put(
  inventory: InventoryHarness,
  sellerId: string,
  productId: string,
  region: string,
  body: Record<string, unknown>,
) {
  return inventory.call('PUT', `/api/inventory/${productId}/${region}`, {
    identity: as.seller(sellerId),
    body,
  });
}

async function reserve(
  inventory: InventoryHarness,
  orderId: string,
  region: string,
  lines: Array<{ productId: string; quantity: number }>,
) {
  return inventory.call('POST', '/internal/reservations', {
    identity: as.service('orders'),
    body: { orderId, region, lines },
  });
}

t.test('a product never stocked shows zero in every configured region', async (t) => {
  const inventory = await startInventory(t, { REGIONS: 'north,south,islands' });
  const productId = randomUUID();
  const response = await inventory.call('GET', `/api/inventory/${productId}`);
  t.equal(response.status, 200);
  t.same(response.body, {
    productId,
    lowStockThreshold: 0,
    regions: [
      { region: 'north', onHand: 0, reserved: 0, available: 0 },
      { region: 'south', onHand: 0, reserved: 0, available: 0 },
      { region: 'islands', onHand: 0, reserved: 0, available: 0 },
    ],
  });
  t.equal(inventory.products.lookups, 0, 'reading stock does not consult the catalog');
});

t.test(
  'a seller sets and adjusts stock with reasons; the ledger always sums to on hand',
  async (t) => {
    const inventory = await startInventory(t);
    const sellerId = randomUUID();
    const { id: productId } = inventory.products.add(sellerId);

    const steps: Array<{ body: Record<string, unknown>; onHand: number; region?: string }> = [
      { body: { onHand: 10, reason: 'initial count' }, onHand: 10 },
      { body: { delta: 5, reason: 'delivery from supplier' }, onHand: 15 },
      { body: { delta: -3, reason: '  damaged in the warehouse  ' }, onHand: 12 },
      { body: { onHand: 12, reason: 'stocktake confirms' }, onHand: 12 },
      {
        body: { onHand: 4, reason: 'first count', lowStockThreshold: 2 },
        onHand: 4,
        region: 'south',
      },
    ];
    for (const step of steps) {
      const region = step.region ?? 'north';
      const response = await put(inventory, sellerId, productId, region, step.body);
      t.equal(response.status, 200, `${JSON.stringify(step.body)}: status`);
      t.same(response.body, {
        productId,
        region,
        onHand: step.onHand,
        reserved: 0,
        available: step.onHand,
        lowStockThreshold: step.region ? 2 : 0,
        updatedAt: response.body.updatedAt,
      });
      t.match(response.body.updatedAt, iso);
      t.same(await ledgerDrift(inventory.db), [], `${JSON.stringify(step.body)}: ledger sums`);
    }

    const movements = await inventory
      .db('stock_movements')
      .orderBy('id')
      .select('region', 'delta', 'on_hand_after', 'kind', 'reason', 'actor', 'order_id');
    const actor = `user:${sellerId}`;
    t.same(movements, [
      {
        region: 'north',
        delta: 10,
        on_hand_after: 10,
        kind: 'set',
        reason: 'initial count',
        actor,
        order_id: null,
      },
      {
        region: 'north',
        delta: 5,
        on_hand_after: 15,
        kind: 'adjust',
        reason: 'delivery from supplier',
        actor,
        order_id: null,
      },
      {
        region: 'north',
        delta: -3,
        on_hand_after: 12,
        kind: 'adjust',
        reason: 'damaged in the warehouse',
        actor,
        order_id: null,
      },
      {
        region: 'north',
        delta: 0,
        on_hand_after: 12,
        kind: 'set',
        reason: 'stocktake confirms',
        actor,
        order_id: null,
      },
      {
        region: 'south',
        delta: 4,
        on_hand_after: 4,
        kind: 'set',
        reason: 'first count',
        actor,
        order_id: null,
      },
    ]);

    const read = await inventory.call('GET', `/api/inventory/${productId}`);
    t.same(read.body, {
      productId,
      lowStockThreshold: 2,
      regions: [
        { region: 'north', onHand: 12, reserved: 0, available: 12 },
        { region: 'south', onHand: 4, reserved: 0, available: 4 },
      ],
    });
    t.ok(
      inventory.logs.lines.some(
        (line) => line.outcome === 'stock_changed' && line.productId === productId,
      ),
      'changes are logged by id and outcome',
    );
    t.notOk(inventory.logs.text().includes('damaged in the warehouse'), 'reasons are not logged');
  },
);

t.test('only the seller who owns a product, or an admin, may change its stock', async (t) => {
  const inventory = await startInventory(t);
  const sellerA = randomUUID();
  const sellerB = randomUUID();
  const { id: productId } = inventory.products.add(sellerA);
  t.equal(
    (await put(inventory, sellerA, productId, 'north', { onHand: 7, reason: 'count' })).status,
    200,
  );
  const before = await rowCounts(inventory.db);

  const stolen = await put(inventory, sellerB, productId, 'north', {
    onHand: 0,
    reason: 'mine now',
  });
  t.equal(stolen.status, 403);
  t.match(stolen.body, { code: 'not_owner', status: 403, type: 'urn:mercado:problem:not_owner' });
  const customer = await inventory.call('PUT', `/api/inventory/${productId}/north`, {
    identity: as.customer(randomUUID()),
    body: { onHand: 0, reason: 'x' },
  });
  t.same([customer.status, customer.body.code], [403, 'forbidden']);
  const anonymous = await inventory.call('PUT', `/api/inventory/${productId}/north`, {
    identity: as.anonymous(),
    body: { onHand: 0, reason: 'x' },
  });
  t.same([anonymous.status, anonymous.body.code], [401, 'unauthorized']);
  const unsigned = await inventory.call('PUT', `/api/inventory/${productId}/north`, {
    headers: { 'x-mercado-identity': 'eyJ1c2VySWQiOiJ4Iiwicm9sZXMiOlsiYWRtaW4iXX0' },
    body: { onHand: 0, reason: 'x' },
  });
  t.same([unsigned.status, unsigned.body.code], [401, 'invalid_identity']);
  t.same(await rowCounts(inventory.db), before, 'nothing was written');
  t.equal((await inventory.db('stock').first()).on_hand, 7);

  const adminId = randomUUID();
  const byAdmin = await inventory.call('PUT', `/api/inventory/${productId}/north`, {
    identity: as.admin(adminId),
    body: { delta: -2, reason: 'inventory audit' },
  });
  t.equal(byAdmin.status, 200);
  t.equal(byAdmin.body.onHand, 5);
  const last = await inventory.db('stock_movements').orderBy('id', 'desc').first();
  t.match(last, { actor: `user:${adminId}`, kind: 'adjust', delta: -2 });
  t.equal(
    (await inventory.db('product_settings').first()).seller_id,
    sellerA,
    'an admin change keeps the product owner as the catalog says',
  );
  t.same(await ledgerDrift(inventory.db), []);
});

t.test('unknown regions and products are 422; an unreachable catalog is 503', async (t) => {
  const inventory = await startInventory(t);
  const sellerId = randomUUID();
  const { id: productId } = inventory.products.add(sellerId);
  const inactive = inventory.products.add(sellerId, { active: false });

  const region = await put(inventory, sellerId, productId, 'east', { onHand: 1, reason: 'x' });
  t.equal(region.status, 422);
  t.match(region.body, { code: 'unknown_region', detail: 'Regions served: north, south' });
  const product = await put(inventory, sellerId, randomUUID(), 'north', { onHand: 1, reason: 'x' });
  t.same([product.status, product.body.code], [422, 'unknown_product']);
  const byAdmin = await inventory.call('PUT', `/api/inventory/${randomUUID()}/north`, {
    identity: as.admin(randomUUID()),
    body: { onHand: 1, reason: 'x' },
  });
  t.same([byAdmin.status, byAdmin.body.code], [422, 'unknown_product']);
  inventory.products.failWith = 500;
  const down = await put(inventory, sellerId, productId, 'north', { onHand: 1, reason: 'x' });
  t.same([down.status, down.body.code], [503, 'service_unavailable']);
  t.same(await rowCounts(inventory.db), {
    product_settings: 0,
    stock: 0,
    stock_movements: 0,
    reservations: 0,
    reservation_lines: 0,
    restocks: 0,
    outbox: 0,
  });
  t.ok(
    inventory.logs.lines.some(
      (line) => line.msg === 'products lookup failed' && line.status === 500,
    ),
  );

  inventory.products.failWith = undefined;
  const restock = await put(inventory, sellerId, inactive.id, 'north', {
    onHand: 3,
    reason: 'returns',
  });
  t.equal(restock.status, 200, 'an inactive product can still be counted');
});

t.test('stock on hand can never drop below what is reserved', async (t) => {
  const inventory = await startInventory(t);
  const sellerId = randomUUID();
  const { id: productId } = inventory.products.add(sellerId);
  await put(inventory, sellerId, productId, 'north', { onHand: 5, reason: 'count' });
  t.equal((await reserve(inventory, 'order-1', 'north', [{ productId, quantity: 3 }])).status, 201);
  const before = await rowCounts(inventory.db);

  const tooLow = await put(inventory, sellerId, productId, 'north', {
    onHand: 2,
    reason: 'recount',
  });
  t.equal(tooLow.status, 409);
  t.match(tooLow.body, {
    code: 'negative_stock',
    detail: 'On hand would be 2 while 3 are reserved',
  });
  const adjusted = await put(inventory, sellerId, productId, 'north', {
    delta: -3,
    reason: 'loss',
  });
  t.same([adjusted.status, adjusted.body.code], [409, 'negative_stock']);
  const empty = await put(inventory, sellerId, productId, 'south', { delta: -1, reason: 'loss' });
  t.same([empty.status, empty.body.code], [409, 'negative_stock']);
  const huge = await put(inventory, sellerId, productId, 'north', {
    delta: 1_000_000_000,
    reason: 'typo',
  });
  t.equal(huge.status, 400);
  t.same(huge.body.errors, [
    { path: 'body.delta', message: 'would take stock on hand above 1000000000', code: 'too_big' },
  ]);
  t.same(await rowCounts(inventory.db), before, 'refused changes write nothing');

  const toReserved = await put(inventory, sellerId, productId, 'north', {
    delta: -2,
    reason: 'loss',
  });
  t.same(
    [
      toReserved.status,
      toReserved.body.onHand,
      toReserved.body.reserved,
      toReserved.body.available,
    ],
    [200, 3, 3, 0],
  );
  t.same(await ledgerDrift(inventory.db), []);
});

t.test(
  'the database itself refuses overselling, ledger edits and on-hand changes without a movement',
  async (t) => {
    const inventory = await startInventory(t);
    const sellerId = randomUUID();
    const { id: productId } = inventory.products.add(sellerId);
    await put(inventory, sellerId, productId, 'north', { onHand: 5, reason: 'count' });
    const sqlState = async (work: () => Promise<unknown>) => {
      try {
        await work();
        return 'no error';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    const db = inventory.db;
    const where = { product_id: productId, region: 'north' };

    t.equal(await sqlState(() => db('stock').where(where).update({ reserved: 6 })), '23514');
    t.equal(await sqlState(() => db('stock').where(where).update({ on_hand: -1 })), '23514');
    t.equal(
      await sqlState(() => db('stock').where(where).update({ on_hand: 99 })),
      '23000',
      'on hand cannot change without a movement',
    );
    t.equal(
      await sqlState(() =>
        db('stock_movements').insert({
          ...where,
          delta: 3,
          kind: 'adjust',
          reason: 'ghost',
          actor: 'user:x',
        }),
      ),
      '23000',
      'a movement cannot be written without changing on hand',
    );
    t.equal(await sqlState(() => db('stock_movements').update({ reason: 'rewritten' })), '23001');
    t.equal(await sqlState(() => db('stock_movements').del()), '23001');
    t.equal(await sqlState(() => db.raw('truncate stock_movements cascade')), '23001');
    t.equal(
      await sqlState(() =>
        db.transaction(async (trx) => {
          await trx('stock').where(where).update({ on_hand: 8 });
          await trx('stock_movements').insert({
            ...where,
            delta: 3,
            kind: 'adjust',
            reason: 'by hand',
            actor: 'user:x',
          });
        }),
      ),
      'no error',
      'a change with its movement in one transaction is fine',
    );
    t.same(await ledgerDrift(inventory.db), []);
    t.same(await db('stock_movements').orderBy('id').select('delta', 'on_hand_after'), [
      { delta: 5, on_hand_after: 5 },
      { delta: 3, on_hand_after: 8 },
    ]);
  },
);

t.test(
  'crossing the low-stock threshold queues exactly one event, and the listing shows it',
  async (t) => {
    const inventory = await startInventory(t);
    const sellerA = randomUUID();
    const sellerB = randomUUID();
    const adminId = randomUUID();
    const gadget = inventory.products.add(sellerA, { id: '10000000-0000-4000-8000-000000000000' });
    const widget = inventory.products.add(sellerA, { id: '20000000-0000-4000-8000-000000000000' });
    const gizmo = inventory.products.add(sellerB, { id: '30000000-0000-4000-8000-000000000000' });
    const outbox = () => inventory.db('outbox').orderBy('id').select('topic', 'payload', 'sent_at');

    t.equal(
      (
        await put(inventory, sellerA, gadget.id, 'north', {
          onHand: 10,
          reason: 'count',
          lowStockThreshold: 5,
        })
      ).status,
      200,
    );
    t.equal(
      (await reserve(inventory, 'o-1', 'north', [{ productId: gadget.id, quantity: 4 }])).status,
      201,
    );
    t.same(await outbox(), [], 'available 6 is still at or above 5');

    const crossed = await put(inventory, sellerA, gadget.id, 'north', {
      delta: -2,
      reason: 'broken',
    });
    t.equal(crossed.body.available, 4);
    const events = await outbox();
    t.equal(events.length, 1);
    t.same(events[0], {
      topic: 'inventory/low-stock',
      payload: {
        type: 'inventory.low_stock_reached',
        id: events[0].payload.id,
        productId: gadget.id,
        sellerId: sellerA,
        region: 'north',
        available: 4,
        threshold: 5,
        at: events[0].payload.at,
      },
      sent_at: null,
    });
    t.match(events[0].payload.id, /^[0-9a-f-]{36}$/);
    t.match(events[0].payload.at, iso);

    await put(inventory, sellerA, gadget.id, 'north', { delta: -1, reason: 'broken' });
    await reserve(inventory, 'o-2', 'north', [{ productId: gadget.id, quantity: 1 }]);
    t.equal((await outbox()).length, 1, 'falling further while low signals nothing more');

    await put(inventory, sellerA, gadget.id, 'north', { delta: 10, reason: 'restock' });
    t.equal((await outbox()).length, 1, 'recovering signals nothing');
    const again = await reserve(inventory, 'o-3', 'north', [{ productId: gadget.id, quantity: 9 }]);
    t.equal(again.status, 201);
    const afterReserve = await outbox();
    t.equal(afterReserve.length, 2, 'a reservation that crosses again signals again');
    t.match(afterReserve[1]!.payload, {
      productId: gadget.id,
      region: 'north',
      available: 3,
      threshold: 5,
    });
    t.equal(
      (
        await inventory.call('POST', '/internal/reservations/o-3/commit', {
          identity: as.service(),
        })
      ).status,
      200,
    );
    t.equal((await outbox()).length, 2, 'a commit leaves available unchanged');

    // A new threshold is checked against every region of the product, once.
    await put(inventory, sellerA, widget.id, 'north', { onHand: 3, reason: 'count' });
    await put(inventory, sellerA, widget.id, 'south', { onHand: 8, reason: 'count' });
    t.equal((await outbox()).length, 2, 'a threshold of 0 is never crossed');
    await put(inventory, sellerA, widget.id, 'south', {
      delta: 1,
      reason: 'found one',
      lowStockThreshold: 5,
    });
    const raised = (await outbox())
      .slice(2)
      .map((event) => [event.payload.region, event.payload.available]);
    t.same(raised, [['north', 3]], 'raising the threshold made north low, not south');
    await put(inventory, sellerA, widget.id, 'north', {
      delta: 1,
      reason: 'found one',
      lowStockThreshold: 10,
    });
    t.same(
      (await outbox()).slice(3).map((event) => [event.payload.region, event.payload.available]),
      [['south', 9]],
      'north was low already; south crossed',
    );

    await put(inventory, sellerB, gizmo.id, 'south', {
      onHand: 1,
      reason: 'count',
      lowStockThreshold: 2,
    });

    const listed = (body: { items: Array<{ productId: string; region: string }> }) =>
      body.items.map((item) => `${item.productId.slice(0, 1)}:${item.region}`);
    const mine = await inventory.call('GET', '/api/inventory/low-stock', {
      identity: as.seller(sellerA),
    });
    t.equal(mine.status, 200);
    t.same(listed(mine.body), ['1:north', '2:north', '2:south']);
    t.same(mine.body.nextCursor, null);
    t.same(mine.body.items[0], {
      productId: gadget.id,
      region: 'north',
      onHand: 8,
      reserved: 5,
      available: 3,
      lowStockThreshold: 5,
      updatedAt: mine.body.items[0].updatedAt,
      sellerId: sellerA,
    });
    const theirs = await inventory.call('GET', '/api/inventory/low-stock', {
      identity: as.seller(sellerB),
    });
    t.same(listed(theirs.body), ['3:south']);

    const admin = as.admin(adminId);
    const page1 = await inventory.call('GET', '/api/inventory/low-stock?limit=2', {
      identity: admin,
    });
    t.same(listed(page1.body), ['1:north', '2:north']);
    const page2 = await inventory.call(
      'GET',
      `/api/inventory/low-stock?limit=2&cursor=${page1.body.nextCursor}`,
      { identity: admin },
    );
    t.same(listed(page2.body), ['2:south', '3:south']);
    t.equal(page2.body.nextCursor, null);
    const south = await inventory.call('GET', '/api/inventory/low-stock?region=south', {
      identity: admin,
    });
    t.same(listed(south.body), ['2:south', '3:south']);

    const customer = await inventory.call('GET', '/api/inventory/low-stock', {
      identity: as.customer(randomUUID()),
    });
    t.same([customer.status, customer.body.code], [403, 'forbidden']);
    t.same(await ledgerDrift(inventory.db), []);
  },
);

t.test('bad input gets a 4xx with a stable code and writes nothing', async (t) => {
  const inventory = await startInventory(t);
  const sellerId = randomUUID();
  const { id: productId } = inventory.products.add(sellerId);
  await put(inventory, sellerId, productId, 'north', { onHand: 5, reason: 'count' });
  const before = await rowCounts(inventory.db);
  const path = `/api/inventory/${productId}/north`;

  // A PUT of the stock above unless the case says otherwise.
  const cases: Array<Omit<RefusalCase, 'method' | 'path'> & { method?: string; path?: string }> = [
    { name: 'malformed JSON', rawBody: '{"onHand": 3,', status: 400, code: 'invalid_json' },
    {
      name: 'not JSON',
      rawBody: 'onHand=3',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      status: 415,
      code: 'unsupported_media_type',
    },
    { name: 'no body', status: 400, code: 'validation_failed', paths: ['body'] },
    { name: 'array body', body: [1], status: 400, code: 'validation_failed', paths: ['body'] },
    {
      name: 'both onHand and delta',
      body: { onHand: 3, delta: 1, reason: 'x' },
      status: 400,
      code: 'validation_failed',
      paths: ['body'],
    },
    {
      name: 'neither onHand nor delta',
      body: { reason: 'x', lowStockThreshold: 3 },
      status: 400,
      code: 'validation_failed',
      paths: ['body'],
    },
    {
      name: 'missing reason',
      body: { onHand: 3 },
      status: 400,
      code: 'validation_failed',
      paths: ['body.reason'],
    },
    {
      name: 'blank reason',
      body: { onHand: 3, reason: '   ' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.reason'],
    },
    {
      name: 'reason too long',
      body: { onHand: 3, reason: 'x'.repeat(201) },
      status: 400,
      code: 'validation_failed',
      paths: ['body.reason'],
    },
    {
      name: 'negative onHand',
      body: { onHand: -1, reason: 'x' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.onHand'],
    },
    {
      name: 'float onHand',
      body: { onHand: 2.5, reason: 'x' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.onHand'],
    },
    {
      name: 'absurd onHand',
      body: { onHand: 1e300, reason: 'x' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.onHand'],
    },
    {
      name: 'string onHand',
      body: { onHand: '3', reason: 'x' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.onHand'],
    },
    {
      name: 'zero delta',
      body: { delta: 0, reason: 'x' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.delta'],
    },
    {
      name: 'float delta',
      body: { delta: -0.5, reason: 'x' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.delta'],
    },
    {
      name: 'negative threshold',
      body: { onHand: 3, reason: 'x', lowStockThreshold: -1 },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lowStockThreshold'],
    },
    {
      name: 'unknown field',
      body: { onHand: 3, reason: 'x', reserved: 0 },
      status: 400,
      code: 'validation_failed',
      paths: ['body.reserved'],
    },
    {
      name: 'malformed product id',
      path: '/api/inventory/not-a-uuid/north',
      body: { onHand: 3, reason: 'x' },
      status: 400,
      code: 'validation_failed',
      paths: ['params.productId'],
    },
    {
      name: 'unknown region',
      path: `/api/inventory/${productId}/atlantis`,
      body: { onHand: 3, reason: 'x' },
      status: 422,
      code: 'unknown_region',
    },
    {
      name: 'unknown product',
      path: `/api/inventory/${randomUUID()}/north`,
      body: { onHand: 3, reason: 'x' },
      status: 422,
      code: 'unknown_product',
    },
    {
      name: 'GET malformed product id',
      method: 'GET',
      path: '/api/inventory/123',
      status: 400,
      code: 'validation_failed',
      paths: ['params.productId'],
    },
    { name: 'wrong method', method: 'DELETE', path, status: 405, code: 'method_not_allowed' },
    {
      name: 'unknown route',
      method: 'GET',
      path: '/api/inventory',
      status: 404,
      code: 'not_found',
    },
    {
      name: 'low-stock limit too large',
      method: 'GET',
      path: '/api/inventory/low-stock?limit=1000',
      status: 400,
      code: 'validation_failed',
      paths: ['query.limit'],
    },
    {
      name: 'low-stock tampered cursor',
      method: 'GET',
      path: '/api/inventory/low-stock?cursor=WyJub3BlIl0',
      status: 400,
      code: 'validation_failed',
      paths: ['query.cursor'],
    },
    {
      name: 'low-stock unknown region',
      method: 'GET',
      path: '/api/inventory/low-stock?region=mars',
      status: 422,
      code: 'unknown_region',
    },
    {
      name: 'low-stock unknown parameter',
      method: 'GET',
      path: '/api/inventory/low-stock?sort=evil',
      status: 400,
      code: 'validation_failed',
      paths: ['query.sort'],
    },
  ];

  await expectRefusals(
    t,
    inventory.call,
    cases.map((c) => ({
      ...c,
      method: c.method ?? 'PUT',
      path: c.path ?? path,
      identity: as.seller(sellerId),
    })),
  );
  t.same(await rowCounts(inventory.db), before, 'nothing was written by any bad request');
  t.equal((await inventory.db('stock').first()).on_hand, 5);
});

t.test('health, readiness and metrics', async (t) => {
  const inventory = await startInventory(t);
  t.same((await inventory.call('GET', '/health/live')).body, { status: 'ok' });
  const ready = await inventory.call('GET', '/health/ready');
  t.same([ready.status, ready.body], [200, { status: 'ok', checks: { database: 'ok' } }]);
  await inventory.call('GET', `/api/inventory/${randomUUID()}`);
  const metrics = (await inventory.call('GET', '/metrics')).body as string;
  t.match(metrics, /route="\/api\/inventory\/:productId",status="200"/);
});

t.test('the OpenAPI document describes exactly the public routes', async (t) => {
  const inventory = await startInventory(t);
  const response = await inventory.call('GET', '/openapi.json');
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type'), /^application\/json/);
  const document = response.body as {
    openapi: string;
    info: { title: string };
    paths: Record<string, Record<string, Record<string, any>>>;
  };
  t.equal(document.openapi, '3.1.0');
  t.equal(document.info.title, 'Mercado inventory');

  const operations = Object.entries(document.paths)
    .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`))
    .sort();
  t.same(operations, [
    'get /api/inventory/low-stock',
    'get /api/inventory/{productId}',
    'put /api/inventory/{productId}/{region}',
  ]);
  t.notOk(
    Object.keys(document.paths).some((path) => path.startsWith('/internal')),
    'no internal path is documented',
  );

  const paths = document.paths;
  t.same(paths['/api/inventory/{productId}']!.get!['x-mercado-access'], 'public');
  t.notOk(paths['/api/inventory/{productId}']!.get!.security, 'reading stock needs no token');
  t.same(paths['/api/inventory/low-stock']!.get!['x-mercado-access'], ['seller', 'admin']);
  t.same(
    (paths['/api/inventory/low-stock']!.get!.parameters as Array<{ name: string; in: string }>)
      .map((parameter) => `${parameter.in}:${parameter.name}`)
      .sort(),
    ['query:cursor', 'query:limit', 'query:region'],
  );

  const put = paths['/api/inventory/{productId}/{region}']!.put!;
  t.same(put['x-mercado-access'], ['seller', 'admin']);
  t.same(put.security, [{ bearerAuth: [] }]);
  t.same(
    (put.parameters as Array<{ name: string; in: string; required: boolean }>).map((parameter) => [
      parameter.in,
      parameter.name,
      parameter.required,
    ]),
    [
      ['path', 'productId', true],
      ['path', 'region', true],
    ],
  );
  const body = put.requestBody.content['application/json'].schema;
  t.equal(body.additionalProperties, false, 'unknown body fields are refused');
  t.same(body.required, ['reason']);
  t.same(Object.keys(body.properties).sort(), ['delta', 'lowStockThreshold', 'onHand', 'reason']);
  t.match(put.responses['200'].content['application/json'].schema, {
    type: 'object',
    required: [
      'region',
      'onHand',
      'reserved',
      'available',
      'productId',
      'lowStockThreshold',
      'updatedAt',
    ],
  });
  t.match(paths['/api/inventory/{productId}']!.get!.responses['200'], {
    content: {
      'application/json': {
        schema: { properties: { regions: { type: 'array', items: { type: 'object' } } } },
      },
    },
  });
  t.match(paths['/api/inventory/low-stock']!.get!.responses['200'], {
    content: {
      'application/json': { schema: { required: ['items', 'nextCursor'] } },
    },
  });
});
