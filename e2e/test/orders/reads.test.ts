import { randomUUID } from 'node:crypto';
import t from 'tap';
import { as, checkout, placeOrder, startShop } from './shop.js';

t.test(
  'GET /api/orders: own orders, newest first, keyset pages, by status; an admin sees all',
  async (t) => {
    const shop = await startShop(t);
    const { orders } = shop;
    const lamp = await shop.sell({ priceMinor: 1_000, stock: { north: 50 } });
    const ana = as.customer();
    const bea = as.customer();
    const anas: string[] = [];
    for (let i = 0; i < 5; i++) {
      anas.push((await checkout(shop, ana, [{ productId: lamp.id, quantity: 1 }])).body.id);
    }
    const beas = (await checkout(shop, bea, [{ productId: lamp.id, quantity: 2 }])).body.id;
    await orders.call('POST', `/api/orders/${anas[1]}/cancel`, { identity: ana });

    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const page = await orders.call('GET', `/api/orders${query}`, { identity: ana });
      t.equal(page.status, 200);
      pages.push(page.body.items.map((item: any) => item.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    t.same(
      pages,
      [[anas[4], anas[3]], [anas[2], anas[1]], [anas[0]]],
      'newest first, two by two, only her own',
    );

    const first = await orders.call('GET', '/api/orders?limit=1', { identity: ana });
    t.same(first.body.items[0], {
      id: anas[4],
      userId: ana.userId,
      status: 'awaiting_payment',
      region: 'north',
      currency: 'EUR',
      totalMinor: 1_000,
      refundedMinor: 0,
      itemCount: 1,
      payCode: first.body.items[0].payCode,
      deadline: first.body.items[0].deadline,
      createdAt: first.body.items[0].createdAt,
      updatedAt: first.body.items[0].updatedAt,
    });
    t.match(first.body.items[0].payCode, /^[0-9A-HJKMNP-TV-Z]{8}$/, 'a pay code for terminals');
    const cancelled = await orders.call('GET', '/api/orders?status=cancelled', { identity: ana });
    t.same(
      cancelled.body.items.map((item: any) => item.id),
      [anas[1]],
    );

    const all = await orders.call('GET', '/api/orders?limit=100', { identity: as.admin() });
    t.same(
      all.body.items.map((item: any) => item.id),
      [beas, ...[...anas].reverse()],
    );

    const forged = await orders.call(
      'GET',
      `/api/orders?cursor=${encodeURIComponent(first.body.nextCursor)}`,
      {
        identity: bea,
      },
    );
    t.match(
      forged,
      {
        status: 400,
        body: {
          code: 'validation_failed',
          errors: [{ path: 'query.cursor', code: 'invalid_cursor' }],
        },
      },
      'a cursor is bound to its listing',
    );
  },
);

t.test(
  'GET /api/orders/{id}: lines, totals and history for its owner or an admin; 404 for anyone else',
  async (t) => {
    const shop = await startShop(t);
    const lamp = await shop.sell({ priceMinor: 2_000, stock: { north: 5 } });
    const ana = as.customer();
    const placed = await checkout(shop, ana, [{ productId: lamp.id, quantity: 2 }]);
    const id = placed.body.id;
    const mine = await shop.orders.call('GET', `/api/orders/${id}`, { identity: ana });
    t.same([mine.status, mine.body], [200, placed.body]);
    t.equal(mine.headers.get('cache-control'), 'no-store');
    t.same(
      (await shop.orders.call('GET', `/api/orders/${id}`, { identity: as.admin() })).body,
      placed.body,
    );
    for (const identity of [as.customer(), as.seller(lamp.sellerId)]) {
      const theirs = await shop.orders.call('GET', `/api/orders/${id}`, { identity });
      t.match(theirs, { status: 404, body: { code: 'order_not_found' } });
    }
    const unknown = await shop.orders.call('GET', `/api/orders/${randomUUID()}`, { identity: ana });
    t.match(unknown, { status: 404, body: { code: 'order_not_found' } });
    const guest = await placeOrder(shop, as.guest(), 'k');
    t.match(
      guest,
      { status: 401, body: { code: 'unauthorized' } },
      'a guest signs in to check out',
    );
  },
);
