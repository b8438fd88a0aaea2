import t from 'tap';
import { as, checkout, startShop } from './shop.js';

/**
 * `GET /api/orders/sold`: a seller's back office lists the orders holding their items — exactly
 * those, with their own lines only — and never another seller's; bad input is a stable 4xx.
 */
t.test(
  'a seller sees exactly the orders with their items, their own lines, never another’s',
  async (t) => {
    const shop = await startShop(t);
    const { orders } = shop;
    const ana = as.seller();
    const bea = as.seller();
    const anaLamp = await shop.sell({ sellerId: ana.userId, name: 'Lamp', priceMinor: 1_000 });
    const anaRug = await shop.sell({ sellerId: ana.userId, name: 'Rug', priceMinor: 3_000 });
    const beaBook = await shop.sell({ sellerId: bea.userId, name: 'Book', priceMinor: 500 });
    const carla = as.customer();
    const dan = as.customer();

    const onlyAna = (
      await checkout(shop, carla, [
        { productId: anaLamp.id, quantity: 2 },
        { productId: anaRug.id, quantity: 1 },
      ])
    ).body;
    const onlyBea = (await checkout(shop, dan, [{ productId: beaBook.id, quantity: 1 }])).body;
    const mixed = (
      await checkout(shop, dan, [
        { productId: anaLamp.id, quantity: 1 },
        { productId: beaBook.id, quantity: 3 },
      ])
    ).body;
    const cancelled = (await checkout(shop, carla, [{ productId: anaRug.id, quantity: 1 }])).body;
    t.equal(
      (await orders.call('POST', `/api/orders/${cancelled.id}/cancel`, { identity: carla })).status,
      200,
    );

    const sold = await orders.call('GET', '/api/orders/sold', { identity: ana });
    t.equal(sold.status, 200);
    t.equal(sold.headers.get('cache-control'), 'no-store');
    t.same(
      sold.body.items.map((item: any) => item.id),
      [cancelled.id, mixed.id, onlyAna.id],
      'hers, newest first; not the order of only another seller’s items',
    );
    const [, mixedSeen, onlyAnaSeen] = sold.body.items;
    t.match(onlyAnaSeen, {
      id: onlyAna.id,
      userId: carla.userId,
      status: 'awaiting_payment',
      totalMinor: 5_000,
      refundedMinor: 0,
      shippingAddress: onlyAna.shippingAddress,
      otherSellers: false,
    });
    const byProduct = [
      [anaLamp.id, 'Lamp', 2, ana.userId],
      [anaRug.id, 'Rug', 1, ana.userId],
    ].sort(([a], [b]) => String(a).localeCompare(String(b)));
    t.same(
      onlyAnaSeen.lines.map((line: any) => [
        line.productId,
        line.name,
        line.quantity,
        line.sellerId,
      ]),
      byProduct,
      'her lines, by product',
    );
    t.same(
      mixedSeen.lines.map((line: any) => line.productId),
      [anaLamp.id],
      'only her own line of a mixed order',
    );
    t.equal(mixedSeen.otherSellers, true, 'other sellers there: an admin ships it');
    t.notOk(JSON.stringify(sold.body).includes(beaBook.id), 'nothing of the other seller’s items');

    const beas = await orders.call('GET', '/api/orders/sold', { identity: bea });
    t.same(
      beas.body.items.map((item: any) => item.id),
      [mixed.id, onlyBea.id],
      'the other seller: hers only',
    );
    t.same(
      beas.body.items[0].lines.map((line: any) => line.productId),
      [beaBook.id],
    );

    // By status, and in keyset pages whose cursor is bound to the seller.
    const byStatus = await orders.call('GET', '/api/orders/sold?status=cancelled', {
      identity: ana,
    });
    t.same(
      byStatus.body.items.map((item: any) => item.id),
      [cancelled.id],
    );
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
      const page = await orders.call('GET', `/api/orders/sold${query}`, { identity: ana });
      t.equal(page.status, 200);
      pages.push(page.body.items.map((item: any) => item.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    t.same(pages, [[cancelled.id, mixed.id], [onlyAna.id]], 'two by two');
    const first = await orders.call('GET', '/api/orders/sold?limit=1', { identity: ana });
    t.match(
      await orders.call(
        'GET',
        `/api/orders/sold?limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`,
        { identity: bea },
      ),
      { status: 400, body: { code: 'validation_failed', errors: [{ path: 'query.cursor' }] } },
      'another seller cannot page on her cursor',
    );

    // An admin names a seller; a seller may not name another.
    const byAdmin = await orders.call('GET', `/api/orders/sold?seller=${bea.userId}`, {
      identity: as.admin(),
    });
    t.same(
      byAdmin.body.items.map((item: any) => item.id),
      [mixed.id, onlyBea.id],
    );
    t.match(
      await orders.call('GET', `/api/orders/sold?seller=${bea.userId}`, { identity: ana }),
      { status: 403, body: { code: 'forbidden' } },
      'a seller lists only her own',
    );
    t.same(
      (await orders.call('GET', `/api/orders/sold?seller=${ana.userId}`, { identity: ana })).body
        .items.length,
      3,
      'naming herself is fine',
    );
    const newSeller = await orders.call('GET', '/api/orders/sold', { identity: as.seller() });
    t.same(newSeller.body, { items: [], nextCursor: null }, 'a seller with no sales: none');

    // Bad input and the wrong caller: stable 4xx codes, nothing listed.
    const refusals: Array<[string, string, object, number, string, string?]> = [
      ['a customer', '', as.customer(), 403, 'forbidden'],
      ['a guest', '', as.guest(), 401, 'unauthorized'],
      ['an unknown status', '?status=lost', ana, 400, 'validation_failed', 'query.status'],
      ['a limit too large', '?limit=101', ana, 400, 'validation_failed', 'query.limit'],
      ['a limit of zero', '?limit=0', ana, 400, 'validation_failed', 'query.limit'],
      ['a malformed seller', '?seller=ana', ana, 400, 'validation_failed', 'query.seller'],
      ['a forged cursor', '?cursor=abc.def', ana, 400, 'validation_failed', 'query.cursor'],
      ['an unknown parameter', '?buyer=me', ana, 400, 'validation_failed', 'query.buyer'],
    ];
    for (const [what, query, identity, status, code, path] of refusals) {
      const refused = await orders.call('GET', `/api/orders/sold${query}`, {
        identity: identity as ReturnType<typeof as.customer>,
      });
      t.match(
        refused,
        { status, body: { code, ...(path ? { errors: [{ path }] } : {}) } },
        `${what}: ${status} ${code}`,
      );
      t.notOk(JSON.stringify(refused.body).includes(onlyAna.id), `${what}: nothing listed`);
    }
  },
);
