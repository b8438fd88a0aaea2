import t from 'tap';
import { as, countRows, startShop } from './shop.js';

const token = /^[A-Za-z0-9_-]{43}$/;

t.test(
  'a guest cart: created on the first add with a token, found by it, its lines checked',
  async (t) => {
    const shop = await startShop(t);
    const { orders } = shop;
    const mesa = await shop.sell({ name: 'Mesa', priceMinor: 12_000, stock: { north: 3 } });
    const silla = await shop.sell({ name: 'Silla', priceMinor: 2_500, stock: { north: 10 } });

    const empty = await orders.call('GET', '/api/cart', { identity: as.guest() });
    t.same(
      [empty.status, empty.body],
      [
        200,
        {
          region: 'north',
          currency: null,
          lines: [],
          itemCount: 0,
          totalMinor: 0,
          checkoutReady: false,
          notices: [],
        },
      ],
    );
    t.equal(empty.headers.get('cache-control'), 'no-store');

    const first = await orders.call('POST', '/api/cart/items', {
      identity: as.guest(),
      body: { productId: mesa.id, quantity: 2 },
    });
    t.equal(first.status, 201, 'the first add creates the guest cart');
    const cartToken = first.headers.get('cart-token')!;
    t.match(cartToken, token);
    t.same(first.body, {
      cartToken,
      region: 'north',
      currency: 'EUR',
      lines: [
        {
          productId: mesa.id,
          name: 'Mesa',
          sku: mesa.sku,
          quantity: 2,
          unitPriceMinor: 12_000,
          lineTotalMinor: 24_000,
          available: 3,
          problem: null,
        },
      ],
      itemCount: 2,
      totalMinor: 24_000,
      checkoutReady: true,
      notices: [],
    });
    const stored = await orders.db('carts').first();
    t.notOk(JSON.stringify(stored).includes(cartToken), 'the token itself is not stored');

    const guest = { identity: as.guest(), headers: { 'cart-token': cartToken } };
    const second = await orders.call('POST', '/api/cart/items', {
      ...guest,
      body: { productId: silla.id, quantity: 4 },
    });
    t.equal(second.status, 200);
    t.equal(second.headers.get('cart-token'), null, 'the token is given once');
    t.same(
      second.body.lines.map((line: any) => [line.productId, line.quantity]),
      [
        [mesa.id, 2],
        [silla.id, 4],
      ],
    );
    t.equal(second.body.totalMinor, 24_000 + 10_000);

    const more = await orders.call('POST', '/api/cart/items', {
      ...guest,
      body: { productId: mesa.id, quantity: 1 },
    });
    t.equal(more.body.lines[0].quantity, 3, 'adding again adds to the line');

    const tooMany = await orders.call('POST', '/api/cart/items', {
      ...guest,
      body: { productId: mesa.id, quantity: 1 },
    });
    t.match(tooMany, {
      status: 409,
      body: { code: 'insufficient_stock', detail: `Product ${mesa.id}: 4 wanted, 3 available` },
    });

    const changed = await orders.call('PATCH', `/api/cart/items/${silla.id}`, {
      ...guest,
      body: { quantity: 1 },
    });
    t.same(
      [changed.status, changed.body.lines[1].quantity, changed.body.totalMinor],
      [200, 1, 38_500],
    );
    const over = await orders.call('PATCH', `/api/cart/items/${silla.id}`, {
      ...guest,
      body: { quantity: 11 },
    });
    t.match(over, { status: 409, body: { code: 'insufficient_stock' } });

    const removed = await orders.call('DELETE', `/api/cart/items/${mesa.id}`, guest);
    t.same(
      [removed.status, removed.body.lines.map((line: any) => line.productId)],
      [200, [silla.id]],
    );
    const again = await orders.call('DELETE', `/api/cart/items/${mesa.id}`, guest);
    t.match(again, { status: 404, body: { code: 'line_not_found' } });
    const emptied = await orders.call('DELETE', `/api/cart/items/${silla.id}`, guest);
    t.same(
      [emptied.body.lines, emptied.body.currency],
      [[], null],
      'an empty cart has no currency',
    );

    const unknown = await orders.call('GET', '/api/cart', {
      identity: as.guest(),
      headers: { 'cart-token': 'A'.repeat(43) },
    });
    t.match(unknown, { status: 404, body: { code: 'cart_not_found' } });
    const malformed = await orders.call('GET', '/api/cart', {
      identity: as.guest(),
      headers: { 'cart-token': 'not a token' },
    });
    t.match(malformed, { status: 400, body: { code: 'cart_token_invalid' } });
  },
);

t.test('each line is checked against the catalog and the stock, with a stable code', async (t) => {
  const shop = await startShop(t);
  const { orders } = shop;
  const shopper = { identity: as.customer() };
  const euros = await shop.sell({ priceMinor: 1000, stock: { north: 5, south: 1 } });
  const dollars = await shop.sell({ priceMinor: 1000, currency: 'USD' });
  const retired = await shop.sell({ active: false });
  const unstocked = await shop.sell({ stock: {} });
  const add = (productId: string, quantity = 1) =>
    orders.call('POST', '/api/cart/items', { ...shopper, body: { productId, quantity } });

  const created = await add(euros.id, 2);
  t.equal(created.status, 200, 'a signed-in cart needs no token');
  t.equal(created.headers.get('cart-token'), null);
  t.equal(created.body.cartToken, undefined);

  const missing = await add('00000000-0000-4000-8000-000000000000');
  t.match(missing, { status: 422, body: { code: 'product_not_found' } });
  t.match(await add(retired.id), { status: 422, body: { code: 'product_inactive' } });
  t.match(await add(dollars.id), {
    status: 409,
    body: {
      code: 'currency_mismatch',
      detail: `This cart is in EUR; product ${dollars.id} is priced in USD`,
    },
  });
  t.match(await add(unstocked.id), {
    status: 409,
    body: {
      code: 'insufficient_stock',
      errors: [{ path: 'body.quantity', code: 'insufficient_stock' }],
    },
  });

  const south = await orders.call('PATCH', '/api/cart', { ...shopper, body: { region: 'south' } });
  t.match(south, {
    status: 409,
    body: {
      code: 'insufficient_stock',
      errors: [
        {
          path: 'lines.0.quantity',
          message: `product ${euros.id}: 2 in the cart, 1 available in south`,
        },
      ],
    },
  });
  const atlantis = await orders.call('PATCH', '/api/cart', {
    ...shopper,
    body: { region: 'atlantis' },
  });
  t.match(atlantis, { status: 422, body: { code: 'unknown_region' } });

  // The catalog and the stock move on after the line was added: the cart shows it, by line.
  await shop.products.call('PATCH', `/api/products/${euros.id}`, {
    identity: as.seller(euros.sellerId),
    body: { priceMinor: 1250 },
  });
  await shop.stock(euros, 'north', 1);
  const read = await orders.call('GET', '/api/cart', shopper);
  t.match(read.body, {
    currency: 'EUR',
    lines: [
      {
        productId: euros.id,
        quantity: 2,
        unitPriceMinor: 1250,
        lineTotalMinor: 2500,
        available: 1,
        problem: 'insufficient_stock',
      },
    ],
    totalMinor: 2500,
    checkoutReady: false,
  });
  await shop.products.call('PATCH', `/api/products/${euros.id}`, {
    identity: as.seller(euros.sellerId),
    body: { active: false },
  });
  const inactive = await orders.call('GET', '/api/cart', shopper);
  t.equal(inactive.body.lines[0].problem, 'product_inactive');
  const noLine = await orders.call('PATCH', `/api/cart/items/${dollars.id}`, {
    ...shopper,
    body: { quantity: 1 },
  });
  t.match(noLine, { status: 404, body: { code: 'line_not_found' } });
});

t.test('signing in merges the guest cart: quantities added, capped by stock', async (t) => {
  const shop = await startShop(t);
  const { orders } = shop;
  const lamp = await shop.sell({ priceMinor: 3000, stock: { north: 5 } });
  const rug = await shop.sell({ priceMinor: 9000, stock: { north: 2 } });
  const yen = await shop.sell({ priceMinor: 500, currency: 'JPY' });
  const user = as.customer();

  await orders.call('POST', '/api/cart/items', {
    identity: user,
    body: { productId: lamp.id, quantity: 4 },
  });
  const guestAdd = await orders.call('POST', '/api/cart/items', {
    identity: as.guest(),
    body: { productId: lamp.id, quantity: 3 },
  });
  const cartToken = guestAdd.body.cartToken;
  const guest = { identity: as.guest(), headers: { 'cart-token': cartToken } };
  await orders.call('POST', '/api/cart/items', {
    ...guest,
    body: { productId: rug.id, quantity: 2 },
  });
  // Another guest cart, in yen, to show what cannot be carried over.
  await shop.stock(rug, 'north', 1);

  const merged = await orders.call('GET', '/api/cart', {
    identity: user,
    headers: { 'cart-token': cartToken },
  });
  t.equal(merged.status, 200);
  t.same(
    merged.body.lines.map((line: any) => [line.productId, line.quantity]),
    [
      [lamp.id, 5],
      [rug.id, 1],
    ],
    '4 + 3 lamps capped at the 5 in stock; 2 rugs capped at the 1 left',
  );
  t.same(merged.body.notices, [
    { productId: lamp.id, code: 'quantity_capped', message: '7 wanted, 5 available in north' },
    { productId: rug.id, code: 'quantity_capped', message: '2 wanted, 1 available in north' },
  ]);
  t.match(
    await orders.call('GET', '/api/cart', guest),
    {
      status: 404,
      body: { code: 'cart_not_found' },
    },
    'the guest cart is gone',
  );
  const after = await orders.call('GET', '/api/cart', {
    identity: user,
    headers: { 'cart-token': cartToken },
  });
  t.same(
    [after.status, after.body.notices, after.body.itemCount],
    [200, [], 6],
    'a repeat changes nothing',
  );

  const yenGuest = await orders.call('POST', '/api/cart/items', {
    identity: as.guest(),
    body: { productId: yen.id, quantity: 1 },
  });
  const other = await orders.call('GET', '/api/cart', {
    identity: user,
    headers: { 'cart-token': yenGuest.body.cartToken },
  });
  t.same(other.body.notices, [
    { productId: yen.id, code: 'currency_mismatch', message: 'Priced in JPY; this cart is in EUR' },
  ]);
  t.equal(other.body.itemCount, 6);
  t.equal(await countRows(orders.db, 'carts'), 1);
});
