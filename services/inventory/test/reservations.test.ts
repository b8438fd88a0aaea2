import { randomUUID } from 'node:crypto';
import t from 'tap';
import { eventually } from '@mercado/common/testing';
import { createReservationSweeper } from '../src/app.js';
import {
  as,
  ledgerDrift,
  rowCounts,
  startInventory,
  stockRow,
  type InventoryHarness,
} from './helpers.js';

const orders = as.service('orders');

async function stock(inventory: InventoryHarness, region: string, onHand: number) {
  const sellerId = randomUUID();
  const { id } = inventory.products.add(sellerId);
  const response = await inventory.call('PUT', `/api/inventory/${id}/${region}`, {
    identity: as.seller(sellerId),
    body: { onHand, reason: 'count' },
  });
  if (response.status !== 200) throw new Error(`stocking failed: ${response.status}`);
  return id;
}

function reserve(
  inventory: InventoryHarness,
  body: {
    orderId: string;
    region: string;
    lines: Array<{ productId: string; quantity: number }>;
    ttlSeconds?: number;
  },
) {
  return inventory.call('POST', '/internal/reservations', { identity: orders, body });
}

function act(inventory: InventoryHarness, orderId: string, action: 'commit' | 'release') {
  return inventory.call('POST', `/internal/reservations/${orderId}/${action}`, {
    identity: orders,
  });
}

async function expire(inventory: InventoryHarness, orderIds: string[]) {
  await inventory
    .db('reservations')
    .whereIn('order_id', orderIds)
    .update({ expires_at: inventory.db.raw(`now() - interval '1 second'`) });
}

t.test('a reservation holds every line or none, and names the short ones', async (t) => {
  const inventory = await startInventory(t);
  const plenty = await stock(inventory, 'north', 10);
  const scarce = await stock(inventory, 'north', 2);
  const elsewhere = await stock(inventory, 'south', 50);
  const before = await rowCounts(inventory.db);

  const short = await reserve(inventory, {
    orderId: 'order-1',
    region: 'north',
    lines: [
      { productId: plenty, quantity: 3 },
      { productId: scarce, quantity: 5 },
      { productId: elsewhere, quantity: 1 },
    ],
  });
  t.equal(short.status, 409);
  t.same(short.body, {
    type: 'urn:mercado:problem:insufficient_stock',
    title: 'Not enough stock available',
    status: 409,
    code: 'insufficient_stock',
    detail: `Not enough stock in north for: ${scarce}, ${elsewhere}`,
    instance: '/internal/reservations',
    requestId: short.body.requestId,
    errors: [
      {
        path: 'body.lines.1.quantity',
        message: `product ${scarce}: 5 requested, 2 available`,
        code: 'insufficient_stock',
      },
      {
        path: 'body.lines.2.quantity',
        message: `product ${elsewhere}: 1 requested, 0 available`,
        code: 'insufficient_stock',
      },
    ],
  });
  t.same(await rowCounts(inventory.db), before, 'nothing was reserved, not even the line that fit');
  t.same(await stockRow(inventory.db, plenty, 'north'), {
    on_hand: 10,
    reserved: 0,
    available: 10,
  });

  const fits = await reserve(inventory, {
    orderId: 'order-1',
    region: 'north',
    lines: [
      { productId: scarce, quantity: 2 },
      { productId: plenty, quantity: 3 },
    ],
  });
  t.equal(fits.status, 201, 'the same order id may try again after a refusal');
  const sorted = [plenty, scarce].sort();
  t.same(fits.body, {
    orderId: 'order-1',
    region: 'north',
    status: 'active',
    expiresAt: fits.body.expiresAt,
    createdAt: fits.body.createdAt,
    updatedAt: fits.body.updatedAt,
    lines: sorted.map((productId) => ({ productId, quantity: productId === plenty ? 3 : 2 })),
  });
  const ttl = Date.parse(fits.body.expiresAt) - Date.parse(fits.body.createdAt);
  t.ok(Math.abs(ttl - 900_000) < 1000, 'the default lifetime is RESERVATION_TTL_SECONDS');
  t.same(await stockRow(inventory.db, plenty, 'north'), { on_hand: 10, reserved: 3, available: 7 });
  t.same(await stockRow(inventory.db, scarce, 'north'), { on_hand: 2, reserved: 2, available: 0 });
  const read = await inventory.call('GET', '/internal/reservations/order-1', { identity: orders });
  t.same([read.status, read.body], [200, fits.body]);
  const publicView = await inventory.call('GET', `/api/inventory/${scarce}`);
  t.same(publicView.body.regions[0], { region: 'north', onHand: 2, reserved: 2, available: 0 });
});

t.test('the same order id reserves once: a repeat returns it, other lines conflict', async (t) => {
  const inventory = await startInventory(t);
  const a = await stock(inventory, 'north', 10);
  const b = await stock(inventory, 'north', 10);
  const request = {
    orderId: 'order-7',
    region: 'north',
    lines: [
      { productId: a, quantity: 2 },
      { productId: b, quantity: 1 },
    ],
    ttlSeconds: 120,
  };
  const first = await reserve(inventory, request);
  t.equal(first.status, 201);
  const counts = await rowCounts(inventory.db);

  const repeat = await reserve(inventory, request);
  t.same([repeat.status, repeat.body], [200, first.body]);
  const reordered = await reserve(inventory, {
    ...request,
    lines: [...request.lines].reverse(),
    ttlSeconds: 600,
  });
  t.same([reordered.status, reordered.body], [200, first.body], 'line order and ttl do not matter');
  t.same(await rowCounts(inventory.db), counts, 'a repeat changes nothing');
  t.same(await stockRow(inventory.db, a, 'north'), { on_hand: 10, reserved: 2, available: 8 });

  const changes: Array<[string, Partial<typeof request>]> = [
    ['another quantity', { lines: [{ productId: a, quantity: 3 }, request.lines[1]!] }],
    ['fewer lines', { lines: [request.lines[0]!] }],
    ['another region', { region: 'south' }],
  ];
  for (const [name, change] of changes) {
    const conflict = await reserve(inventory, { ...request, ...change });
    t.equal(conflict.status, 409, `${name}: status`);
    t.match(conflict.body, { code: 'reservation_conflict' }, `${name}: code`);
  }
  t.same(await rowCounts(inventory.db), counts, 'conflicts change nothing');

  const racing = await Promise.all(
    Array.from({ length: 20 }, () =>
      reserve(inventory, {
        orderId: 'order-8',
        region: 'north',
        lines: [{ productId: b, quantity: 4 }],
      }),
    ),
  );
  t.same(
    racing.map((response) => response.status).sort(),
    [...Array<number>(19).fill(200), 201],
    'twenty simultaneous identical requests reserve once',
  );
  t.same(await stockRow(inventory.db, b, 'north'), { on_hand: 10, reserved: 5, available: 5 });

  await act(inventory, 'order-7', 'release');
  const afterRelease = await reserve(inventory, request);
  t.same(
    [afterRelease.status, afterRelease.body.status],
    [200, 'released'],
    'a repeat after release returns the released reservation and holds nothing again',
  );
  t.same(await stockRow(inventory.db, a, 'north'), { on_hand: 10, reserved: 0, available: 10 });
});

t.test('committing takes the units off hand with a commit movement per line, once', async (t) => {
  const inventory = await startInventory(t);
  const a = await stock(inventory, 'north', 10);
  const b = await stock(inventory, 'north', 4);
  await reserve(inventory, {
    orderId: 'paid-1',
    region: 'north',
    lines: [
      { productId: a, quantity: 3 },
      { productId: b, quantity: 4 },
    ],
  });
  const committed = await act(inventory, 'paid-1', 'commit');
  t.equal(committed.status, 200);
  t.equal(committed.body.status, 'committed');
  t.same(await stockRow(inventory.db, a, 'north'), { on_hand: 7, reserved: 0, available: 7 });
  t.same(await stockRow(inventory.db, b, 'north'), { on_hand: 0, reserved: 0, available: 0 });
  const movements = await inventory
    .db('stock_movements')
    .where({ kind: 'commit' })
    .orderBy('product_id')
    .select('product_id', 'region', 'delta', 'on_hand_after', 'reason', 'actor', 'order_id');
  t.same(
    movements,
    [
      { product_id: a, delta: -3, on_hand_after: 7 },
      { product_id: b, delta: -4, on_hand_after: 0 },
    ]
      .sort((x, y) => (x.product_id < y.product_id ? -1 : 1))
      .map((movement) => ({
        ...movement,
        region: 'north',
        reason: 'order paid',
        actor: 'service:orders',
        order_id: 'paid-1',
      })),
  );
  t.same(await ledgerDrift(inventory.db), []);

  const counts = await rowCounts(inventory.db);
  const again = await act(inventory, 'paid-1', 'commit');
  t.same([again.status, again.body], [200, committed.body], 'committing twice changes nothing');
  t.same(await rowCounts(inventory.db), counts);

  const release = await act(inventory, 'paid-1', 'release');
  t.equal(release.status, 409);
  t.match(release.body, {
    code: 'reservation_conflict',
    detail: 'The reservation is committed (paid) and can no longer be released',
  });
  t.same(await stockRow(inventory.db, a, 'north'), { on_hand: 7, reserved: 0, available: 7 });
});

t.test('releasing returns the units, once; a released hold cannot be committed', async (t) => {
  const inventory = await startInventory(t);
  const a = await stock(inventory, 'south', 5);
  await reserve(inventory, {
    orderId: 'cancel-1',
    region: 'south',
    lines: [{ productId: a, quantity: 5 }],
  });
  t.same(await stockRow(inventory.db, a, 'south'), { on_hand: 5, reserved: 5, available: 0 });
  const released = await act(inventory, 'cancel-1', 'release');
  t.same([released.status, released.body.status], [200, 'released']);
  t.same(await stockRow(inventory.db, a, 'south'), { on_hand: 5, reserved: 0, available: 5 });
  const again = await act(inventory, 'cancel-1', 'release');
  t.same([again.status, again.body], [200, released.body]);
  t.same(await stockRow(inventory.db, a, 'south'), { on_hand: 5, reserved: 0, available: 5 });
  const commit = await act(inventory, 'cancel-1', 'commit');
  t.same([commit.status, commit.body.code], [409, 'reservation_conflict']);
  t.equal(commit.body.detail, 'The reservation is released and can no longer be committed');
  t.equal(
    await inventory
      .db('stock_movements')
      .where({ kind: 'commit' })
      .count('* as n')
      .first()
      .then((r) => Number(r!.n)),
    0,
  );
  t.same(await ledgerDrift(inventory.db), []);
});

t.test('internal routes answer only the orders service; unknown orders are 404', async (t) => {
  const inventory = await startInventory(t);
  const missing = await inventory.call('GET', '/internal/reservations/nope', { identity: orders });
  t.same([missing.status, missing.body.code], [404, 'reservation_not_found']);
  for (const action of ['commit', 'release'] as const) {
    const response = await act(inventory, 'nope', action);
    t.same([response.status, response.body.code], [404, 'reservation_not_found'], action);
  }
  const callers = [
    { name: 'no identity', identity: undefined, status: 401, code: 'unauthorized' },
    { name: 'an admin user', identity: as.admin(randomUUID()), status: 401, code: 'unauthorized' },
    { name: 'another service', identity: as.service('payments'), status: 403, code: 'forbidden' },
  ];
  for (const caller of callers) {
    const response = await inventory.call('POST', '/internal/reservations', {
      ...(caller.identity ? { identity: caller.identity } : {}),
      body: { orderId: 'x', region: 'north', lines: [{ productId: randomUUID(), quantity: 1 }] },
    });
    t.same([response.status, response.body.code], [caller.status, caller.code], caller.name);
  }
  t.equal(
    await inventory
      .db('reservations')
      .count('* as n')
      .first()
      .then((r) => Number(r!.n)),
    0,
  );
});

t.test('the sweeper expires overdue holds and leaves the rest alone', async (t) => {
  const inventory = await startInventory(t);
  const a = await stock(inventory, 'north', 10);
  const b = await stock(inventory, 'south', 10);
  await reserve(inventory, {
    orderId: 'late-1',
    region: 'north',
    lines: [{ productId: a, quantity: 2 }],
  });
  await reserve(inventory, {
    orderId: 'late-2',
    region: 'south',
    lines: [{ productId: b, quantity: 3 }],
    ttlSeconds: 60,
  });
  await reserve(inventory, {
    orderId: 'on-time',
    region: 'north',
    lines: [{ productId: a, quantity: 4 }],
  });
  await reserve(inventory, {
    orderId: 'paid',
    region: 'north',
    lines: [{ productId: a, quantity: 1 }],
  });
  await act(inventory, 'paid', 'commit');
  await expire(inventory, ['late-1', 'late-2', 'paid']);

  t.equal(await inventory.sweep(), 2);
  const statuses = Object.fromEntries(
    (await inventory.db('reservations').select('order_id', 'status')).map((row) => [
      row.order_id,
      row.status,
    ]),
  );
  t.same(statuses, {
    'late-1': 'expired',
    'late-2': 'expired',
    'on-time': 'active',
    paid: 'committed',
  });
  t.same(await stockRow(inventory.db, a, 'north'), { on_hand: 9, reserved: 4, available: 5 });
  t.same(await stockRow(inventory.db, b, 'south'), { on_hand: 10, reserved: 0, available: 10 });
  t.equal(await inventory.sweep(), 0, 'a second sweep finds nothing');
  t.ok(
    inventory.logs.lines.some((line) => line.msg === 'reservations expired' && line.expired === 2),
  );

  const release = await act(inventory, 'late-1', 'release');
  t.same(
    [release.status, release.body.status],
    [200, 'expired'],
    'releasing an expired hold is a no-op',
  );
  const commit = await act(inventory, 'late-1', 'commit');
  t.same([commit.status, commit.body.code], [409, 'reservation_conflict']);
  t.same(await stockRow(inventory.db, a, 'north'), { on_hand: 9, reserved: 4, available: 5 });

  // The timer a replica runs: started, it expires holds on its own; stopped, it stays stopped.
  await expire(inventory, ['on-time']);
  const sweeper = createReservationSweeper({
    db: inventory.db,
    log: inventory.logs.log,
    batchSize: 10,
    intervalMs: 20,
  });
  sweeper.start();
  sweeper.start();
  await eventually(
    'the running sweeper expired the hold',
    async () =>
      (await inventory.db('reservations').where({ order_id: 'on-time' }).first()).status ===
      'expired',
  );
  await sweeper.stop();
  t.same(await stockRow(inventory.db, a, 'north'), { on_hand: 9, reserved: 0, available: 9 });
  t.equal(await sweeper.runOnce(), 0);
  t.same(await ledgerDrift(inventory.db), []);
});

t.test('sweepers on several replicas at once never release a hold twice', async (t) => {
  const inventory = await startInventory(t);
  const products = [await stock(inventory, 'north', 500), await stock(inventory, 'north', 500)];
  const orderIds: string[] = [];
  for (let i = 0; i < 120; i++) {
    const orderId = `sweep-${i}`;
    orderIds.push(orderId);
    const lines =
      i % 3 === 0
        ? products.map((productId) => ({ productId, quantity: 2 }))
        : [{ productId: products[i % 2]!, quantity: 1 }];
    t.equal((await reserve(inventory, { orderId, region: 'north', lines })).status, 201);
  }
  // Half expire now; the other half stay active, and are committed while the sweepers run.
  const overdue = orderIds.filter((_id, i) => i % 2 === 0);
  const live = orderIds.filter((_id, i) => i % 2 === 1);
  await expire(inventory, overdue);

  const results = await Promise.all([
    inventory.sweep(7),
    inventory.sweep(7),
    inventory.sweep(13),
    ...live.slice(0, 20).map((orderId) => act(inventory, orderId, 'commit')),
  ]);
  const swept = results.slice(0, 3) as number[];
  t.equal(
    swept.reduce((sum, n) => sum + n, 0),
    overdue.length,
    'each overdue hold expired exactly once',
  );
  t.ok(
    results.slice(3).every((response) => (response as { status: number }).status === 200),
    'commits of live holds went through beside the sweepers',
  );
  const expected = await inventory.db.raw<{ rows: Array<{ product_id: string; held: number }> }>(`
    select l.product_id, coalesce(sum(l.quantity) filter (where r.status = 'active'), 0)::int as held
      from reservation_lines l join reservations r using (order_id)
     group by l.product_id order by l.product_id`);
  for (const { product_id, held } of expected.rows) {
    t.equal(
      (await stockRow(inventory.db, product_id, 'north'))!.reserved,
      held,
      'reserved = active holds',
    );
  }
  t.equal(
    Number((await inventory.db('reservations').where({ status: 'expired' }).count('* as n'))[0]!.n),
    overdue.length,
  );
  t.same(await ledgerDrift(inventory.db), []);
});

t.test(
  'many multi-line reservations in opposite orders neither deadlock nor oversell',
  async (t) => {
    const inventory = await startInventory(t);
    const products = [
      await stock(inventory, 'north', 30),
      await stock(inventory, 'north', 30),
      await stock(inventory, 'north', 30),
    ];
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const lines = (i % 2 === 0 ? products : [...products].reverse()).map((productId) => ({
          productId,
          quantity: 1 + (i % 3),
        }));
        return reserve(inventory, { orderId: `multi-${i}`, region: 'north', lines });
      }),
    );
    const statuses = responses.map((response) => response.status);
    t.ok(
      statuses.every((status) => status === 201 || status === 409),
      'only 201 or 409',
    );
    t.ok(
      responses.filter((r) => r.status === 409).every((r) => r.body.code === 'insufficient_stock'),
      'refusals are insufficient_stock',
    );
    const held = responses
      .filter((response) => response.status === 201)
      .reduce((sum, response) => sum + (response.body.lines[0].quantity as number), 0);
    for (const productId of products) {
      const row = (await stockRow(inventory.db, productId, 'north'))!;
      t.equal(row.reserved, held, 'every product holds what the accepted reservations took');
      t.ok(row.available >= 0 && row.available < 3, 'stock ran out without going below zero');
    }
    const metrics = (await inventory.call('GET', '/metrics')).body as string;
    t.match(metrics, /db_query_duration_seconds_count/);
    t.notMatch(
      metrics,
      /db_errors_total\{[^}]*code="40P01"/,
      'no deadlock happened, not even retried',
    );
  },
);

t.test('bad reservation input gets a 4xx with a stable code and writes nothing', async (t) => {
  const inventory = await startInventory(t);
  const productId = await stock(inventory, 'north', 100);
  const before = await rowCounts(inventory.db);
  const line = { productId, quantity: 1 };
  const valid = { orderId: 'bad-1', region: 'north', lines: [line] };

  const cases: Array<{
    name: string;
    path?: string;
    body?: unknown;
    rawBody?: string;
    status: number;
    code: string;
    paths?: string[];
  }> = [
    { name: 'malformed JSON', rawBody: '{"orderId":', status: 400, code: 'invalid_json' },
    { name: 'no body', status: 400, code: 'validation_failed', paths: ['body'] },
    {
      name: 'empty object',
      body: {},
      status: 400,
      code: 'validation_failed',
      paths: ['body.orderId', 'body.region', 'body.lines'],
    },
    {
      name: 'unknown field',
      body: { ...valid, priority: 'high' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.priority'],
    },
    {
      name: 'unknown line field',
      body: { ...valid, lines: [{ ...line, price: 1 }] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lines.0.price'],
    },
    {
      name: 'no lines',
      body: { ...valid, lines: [] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lines'],
    },
    {
      name: 'too many lines',
      body: {
        ...valid,
        lines: Array.from({ length: 101 }, () => ({ productId: randomUUID(), quantity: 1 })),
      },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lines'],
    },
    {
      name: 'zero quantity',
      body: { ...valid, lines: [{ productId, quantity: 0 }] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lines.0.quantity'],
    },
    {
      name: 'negative quantity',
      body: { ...valid, lines: [{ productId, quantity: -5 }] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lines.0.quantity'],
    },
    {
      name: 'float quantity',
      body: { ...valid, lines: [{ productId, quantity: 1.5 }] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lines.0.quantity'],
    },
    {
      name: 'absurd quantity',
      body: { ...valid, lines: [{ productId, quantity: 1e12 }] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lines.0.quantity'],
    },
    {
      name: 'string quantity',
      body: { ...valid, lines: [{ productId, quantity: '1' }] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lines.0.quantity'],
    },
    {
      name: 'malformed product id',
      body: { ...valid, lines: [{ productId: 'abc', quantity: 1 }] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lines.0.productId'],
    },
    {
      name: 'duplicate product',
      body: { ...valid, lines: [line, { productId, quantity: 2 }] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lines.1.productId'],
    },
    {
      name: 'null line',
      body: { ...valid, lines: [null] },
      status: 400,
      code: 'validation_failed',
      paths: ['body.lines.0'],
    },
    {
      name: 'malformed order id',
      body: { ...valid, orderId: 'a b/c' },
      status: 400,
      code: 'validation_failed',
      paths: ['body.orderId'],
    },
    {
      name: 'order id too long',
      body: { ...valid, orderId: 'x'.repeat(101) },
      status: 400,
      code: 'validation_failed',
      paths: ['body.orderId'],
    },
    {
      name: 'ttl too short',
      body: { ...valid, ttlSeconds: 5 },
      status: 400,
      code: 'validation_failed',
      paths: ['body.ttlSeconds'],
    },
    {
      name: 'ttl too long',
      body: { ...valid, ttlSeconds: 86_400 },
      status: 400,
      code: 'validation_failed',
      paths: ['body.ttlSeconds'],
    },
    {
      name: 'unknown region',
      body: { ...valid, region: 'atlantis' },
      status: 422,
      code: 'unknown_region',
    },
    {
      name: 'unknown product',
      body: { ...valid, lines: [{ productId: randomUUID(), quantity: 1 }] },
      status: 409,
      code: 'insufficient_stock',
    },
    {
      name: 'malformed order id in path',
      path: '/internal/reservations/a%20b/commit',
      status: 400,
      code: 'validation_failed',
      paths: ['params.orderId'],
    },
  ];
  for (const c of cases) {
    const response = await inventory.call('POST', c.path ?? '/internal/reservations', {
      identity: orders,
      ...(c.body !== undefined ? { body: c.body } : {}),
      ...(c.rawBody !== undefined ? { rawBody: c.rawBody } : {}),
    });
    t.equal(response.status, c.status, `${c.name}: status`);
    t.match(
      response.body,
      { code: c.code, status: c.status, type: `urn:mercado:problem:${c.code}`, title: String },
      `${c.name}: body`,
    );
    if (c.paths) {
      t.same(
        [...new Set((response.body.errors as Array<{ path: string }>).map((error) => error.path))],
        c.paths,
        `${c.name}: field paths`,
      );
    }
  }
  const wrongMethod = await inventory.call('DELETE', '/internal/reservations/bad-1', {
    identity: orders,
  });
  t.same([wrongMethod.status, wrongMethod.body.code], [405, 'method_not_allowed']);
  t.same(await rowCounts(inventory.db), before, 'nothing was written by any bad request');
});

t.test(
  'restocking a refunded order puts units back once per restock id, never more than it took',
  async (t) => {
    const inventory = await startInventory(t);
    const a = await stock(inventory, 'north', 10);
    const b = await stock(inventory, 'north', 5);
    const lines = [
      { productId: a, quantity: 3 },
      { productId: b, quantity: 2 },
    ];
    await reserve(inventory, { orderId: 'refunded-1', region: 'north', lines });
    const restock = (restockId: string, body: Array<{ productId: string; quantity: number }>) =>
      inventory.call('POST', '/internal/reservations/refunded-1/restock', {
        identity: orders,
        body: { restockId, lines: body },
      });

    const early = await restock(randomUUID(), [{ productId: a, quantity: 1 }]);
    t.match(early, { status: 409, body: { code: 'reservation_conflict' } }, 'not paid yet');
    await act(inventory, 'refunded-1', 'commit');
    t.same(await stockRow(inventory.db, a, 'north'), { on_hand: 7, reserved: 0, available: 7 });

    const first = randomUUID();
    const put = await restock(first, [{ productId: a, quantity: 2 }]);
    t.equal(put.status, 200);
    t.equal(put.body.status, 'committed');
    t.same(await stockRow(inventory.db, a, 'north'), { on_hand: 9, reserved: 0, available: 9 });
    const counts = await rowCounts(inventory.db);
    const again = await restock(first, [{ productId: a, quantity: 2 }]);
    t.same([again.status, again.body], [200, put.body], 'the same restock id: once');
    t.same(await rowCounts(inventory.db), counts);
    t.same(await stockRow(inventory.db, a, 'north'), { on_hand: 9, reserved: 0, available: 9 });

    const over = await restock(randomUUID(), [
      { productId: a, quantity: 2 },
      { productId: b, quantity: 1 },
    ]);
    t.match(over, {
      status: 422,
      body: {
        code: 'restock_exceeds_committed',
        errors: [{ path: 'body.lines.0.quantity', code: 'restock_exceeds_committed' }],
      },
    });
    const stranger = await restock(randomUUID(), [{ productId: randomUUID(), quantity: 1 }]);
    t.match(stranger, { status: 422, body: { code: 'restock_exceeds_committed' } });
    t.same(await rowCounts(inventory.db), counts, 'refusals change nothing');

    // Concurrent restocks of the rest: the reservation's lock lets only what the order took back.
    const racing = await Promise.all(
      Array.from({ length: 5 }, () => restock(randomUUID(), [{ productId: b, quantity: 1 }])),
    );
    t.same(
      racing.map((answer) => answer.status).sort(),
      [200, 200, 422, 422, 422],
      'two of b were taken: two go back',
    );
    t.same(await stockRow(inventory.db, b, 'north'), { on_hand: 5, reserved: 0, available: 5 });

    const movements = await inventory
      .db('stock_movements')
      .where({ kind: 'restock' })
      .orderBy('id')
      .select('product_id', 'delta', 'reason', 'actor', 'order_id');
    t.same(
      movements.map((movement: { product_id: string; delta: number }) => [
        movement.product_id,
        movement.delta,
      ]),
      [
        [a, 2],
        [b, 1],
        [b, 1],
      ],
    );
    t.match(movements[0], {
      reason: 'order refunded',
      actor: 'service:orders',
      order_id: 'refunded-1',
    });
    t.same(await ledgerDrift(inventory.db), []);

    await reserve(inventory, {
      orderId: 'other-1',
      region: 'north',
      lines: [{ productId: a, quantity: 1 }],
    });
    await act(inventory, 'other-1', 'commit');
    const reused = await inventory.call('POST', '/internal/reservations/other-1/restock', {
      identity: orders,
      body: { restockId: first, lines: [{ productId: a, quantity: 1 }] },
    });
    t.match(reused, { status: 409, body: { code: 'reservation_conflict' } }, 'ids are not shared');
    const unknown = await inventory.call('POST', '/internal/reservations/nobody/restock', {
      identity: orders,
      body: { restockId: randomUUID(), lines: [{ productId: a, quantity: 1 }] },
    });
    t.match(unknown, { status: 404, body: { code: 'reservation_not_found' } });
  },
);
