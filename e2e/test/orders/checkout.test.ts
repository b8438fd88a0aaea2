import { randomUUID } from 'node:crypto';
import t from 'tap';
import { address, as, countRows, listenAs, placeOrder, startBroker, startShop } from './shop.js';

const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

t.test(
  'checkout: prices from the catalog now, stock reserved, an order awaiting payment, the intent from the outbox',
  async (t) => {
    const mqttUrl = await startBroker(t);
    const payments = await listenAs(t, mqttUrl, 'payments', ['payments/intents']);
    const gateway = await listenAs(t, mqttUrl, 'gateway', ['orders/+/+/status']);
    const shop = await startShop(t, {
      MQTT_URL: mqttUrl,
      PAYMENT_WINDOW_SECONDS: '600',
      EXPIRY_GRACE_SECONDS: '90',
    });
    const { orders } = shop;
    const sellerId = randomUUID();
    const mesa = await shop.sell({
      sellerId,
      name: 'Mesa',
      priceMinor: 12_000,
      stock: { north: 3 },
    });
    const silla = await shop.sell({
      sellerId,
      name: 'Silla',
      priceMinor: 2_500,
      stock: { north: 10 },
    });
    const user = as.customer();
    await orders.call('POST', '/api/cart/items', {
      identity: user,
      body: { productId: mesa.id, quantity: 1 },
    });
    await orders.call('POST', '/api/cart/items', {
      identity: user,
      body: { productId: silla.id, quantity: 4 },
    });
    // The price moves after the cart saw it: the order takes the catalog's price at checkout.
    await shop.products.call('PATCH', `/api/products/${mesa.id}`, {
      identity: as.seller(sellerId),
      body: { priceMinor: 11_000 },
    });

    const key = 'checkout-1';
    const placed = await orders.call('POST', '/api/orders', {
      identity: user,
      headers: { 'idempotency-key': key },
      body: { shippingAddress: address },
    });
    t.equal(placed.status, 201);
    const order = placed.body;
    t.equal(placed.headers.get('location'), `/api/orders/${order.id}`);
    t.same(order, {
      id: order.id,
      userId: user.userId,
      status: 'awaiting_payment',
      region: 'north',
      currency: 'EUR',
      totalMinor: 11_000 + 4 * 2_500,
      itemCount: 5,
      deadline: order.deadline,
      payCode: order.payCode,
      refundedMinor: 0,
      createdAt: order.createdAt,
      updatedAt: order.updatedAt,
      shippingAddress: address,
      failureReason: null,
      lines: [
        {
          productId: mesa.id,
          sellerId,
          name: 'Mesa',
          sku: mesa.sku,
          unitPriceMinor: 11_000,
          quantity: 1,
          lineTotalMinor: 11_000,
        },
        {
          productId: silla.id,
          sellerId,
          name: 'Silla',
          sku: silla.sku,
          unitPriceMinor: 2_500,
          quantity: 4,
          lineTotalMinor: 10_000,
        },
      ].sort((a, b) => (a.productId < b.productId ? -1 : 1)),
      history: [
        {
          from: null,
          to: 'awaiting_payment',
          cause: 'checkout',
          actor: `user:${user.userId}`,
          at: order.createdAt,
        },
      ],
      payments: [],
      refunds: [],
    });
    t.match(order.deadline, iso);

    const reservation = await shop.callInventory('GET', `/internal/reservations/${order.id}`, {
      identity: { roles: [], service: 'orders' },
    });
    t.match(reservation.body, { status: 'active', region: 'north' });
    t.equal(
      Date.parse(reservation.body.expiresAt) - Date.parse(order.deadline),
      (90 + 60) * 1000,
      'stock stays reserved past the deadline: the grace, and a minute more',
    );
    const window = Date.parse(order.deadline) - Date.parse(order.createdAt);
    t.ok(Math.abs(window - 600_000) < 5_000, 'the deadline is PAYMENT_WINDOW_SECONDS away');

    const intent = await payments.next((message) => message.payload.orderId === order.id);
    t.same(intent, {
      topic: 'payments/intents',
      payload: {
        type: 'payment.intent_created',
        id: intent.payload.id,
        orderId: order.id,
        userId: user.userId,
        amountMinor: 21_000,
        currency: 'EUR',
        expiresAt: order.deadline,
        payCode: order.payCode,
      },
    });
    // The code a shop's terminal pays it by: Crockford's base32, in the intent payments keeps.
    t.match(order.payCode, /^[0-9A-HJKMNP-TV-Z]{8}$/);
    const status = await gateway.next((message) => message.payload.orderId === order.id);
    t.same(status, {
      topic: `orders/${user.userId}/${order.id}/status`,
      payload: {
        type: 'order.status_changed',
        id: status.payload.id,
        orderId: order.id,
        status: 'awaiting_payment',
        at: status.payload.at,
      },
    });

    const cart = await orders.call('GET', '/api/cart', { identity: user });
    t.same([cart.body.lines, cart.body.currency], [[], null], 'the cart is emptied');

    const replay = await placeOrder(shop, user, key);
    t.same([replay.status, replay.body], [201, order], 'the same key gives the first answer again');
    t.equal(replay.headers.get('idempotent-replayed'), 'true');
    t.equal(placed.headers.get('idempotent-replayed'), null);

    const reused = await placeOrder(shop, user, key, {
      shippingAddress: { ...address, city: 'Sevilla' },
    });
    t.match(reused, { status: 422, body: { code: 'idempotency_key_reused' } });
    const withAmount = await placeOrder(shop, user, 'another', {
      shippingAddress: address,
      amountMinor: 1,
    });
    t.match(withAmount, {
      status: 400,
      body: { code: 'validation_failed', errors: [{ path: 'body' }] },
    });
    t.equal(await countRows(shop.orders.db, 'orders'), 1);
  },
);

t.test(
  'the Idempotency-Key: required, at most 255 characters, per user; refusals kept once processing started',
  async (t) => {
    const shop = await startShop(t);
    const { orders } = shop;
    const lamp = await shop.sell({ priceMinor: 3000, stock: { north: 2 } });
    const user = as.customer();
    const place = (headers: Record<string, string>, identity = user) =>
      orders.call('POST', '/api/orders', { identity, headers, body: { shippingAddress: address } });

    t.match(await place({}), { status: 400, body: { code: 'idempotency_key_required' } });
    t.match(await place({ 'idempotency-key': 'k'.repeat(256) }), {
      status: 400,
      body: { code: 'idempotency_key_required' },
    });

    const long = 'k'.repeat(255);
    const empty = await place({ 'idempotency-key': long });
    t.match(empty, { status: 409, body: { code: 'cart_empty' } });
    await orders.call('POST', '/api/cart/items', {
      identity: user,
      body: { productId: lamp.id, quantity: 2 },
    });
    const still = await place({ 'idempotency-key': long });
    t.match(
      still,
      { status: 409, body: { code: 'cart_empty' } },
      'the first answer, an error, is kept',
    );
    t.equal(still.headers.get('idempotent-replayed'), 'true');

    // Stock moves after the cart was filled: the refusal is clear, names the line, holds nothing.
    await shop.stock(lamp, 'north', 1);
    const short = await place({ 'idempotency-key': 'short' });
    t.match(short, {
      status: 409,
      body: {
        code: 'insufficient_stock',
        errors: [
          {
            path: 'cart.lines.0.quantity',
            message: `product ${lamp.id}: 2 requested, 1 available`,
          },
        ],
      },
    });
    const reservations = await shop.inventory.db('reservations').count('* as n').first();
    t.equal(Number((reservations as any).n), 0, 'nothing is reserved');

    await orders.call('PATCH', `/api/cart/items/${lamp.id}`, {
      identity: user,
      body: { quantity: 1 },
    });
    const placed = await place({ 'idempotency-key': 'short-2' });
    t.equal(placed.status, 201);
    await shop.stock(lamp, 'north', 2);
    const other = as.customer();
    await orders.call('POST', '/api/cart/items', {
      identity: other,
      body: { productId: lamp.id, quantity: 1 },
    });
    const theirs = await place({ 'idempotency-key': 'short-2' }, other);
    t.equal(theirs.status, 201, 'keys are per user: another user’s same key is another order');
    t.not(theirs.body.id, placed.body.id);
  },
);

t.test('the same Idempotency-Key 20 times at once: one order', async (t) => {
  const shop = await startShop(t);
  const lamp = await shop.sell({ priceMinor: 3000, stock: { north: 50 } });
  const user = as.customer();
  await shop.orders.call('POST', '/api/cart/items', {
    identity: user,
    body: { productId: lamp.id, quantity: 2 },
  });
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => placeOrder(shop, user, 'same')),
  );
  const created = answers.filter((answer) => answer.status === 201);
  t.ok(created.length >= 1, 'at least the first is answered with the order');
  t.same(new Set(created.map((answer) => answer.body.id)).size, 1, 'every 201 is the same order');
  t.ok(
    answers.every(
      (answer) => answer.status === 201 || answer.body.code === 'idempotency_key_in_use',
    ),
    'the others were told to retry',
  );
  t.equal(await countRows(shop.orders.db, 'orders'), 1);
  const stock = await shop.inventory.db('stock').where({ product_id: lamp.id }).first();
  t.equal(stock.reserved, 2, 'one reservation');
});

t.test('50 concurrent checkouts for a stock of 5: 5 orders, nothing oversold', async (t) => {
  const shop = await startShop(t);
  const lamp = await shop.sell({ priceMinor: 3000, stock: { north: 5 } });
  const users = Array.from({ length: 50 }, () => as.customer());
  for (const user of users) {
    await shop.orders.call('POST', '/api/cart/items', {
      identity: user,
      body: { productId: lamp.id, quantity: 1 },
    });
  }
  const answers = await Promise.all(
    users.map((user) => placeOrder(shop, user, `k-${user.userId}`)),
  );
  const statuses = answers.map((answer) => answer.status).sort();
  t.same(statuses.filter((status) => status === 201).length, 5);
  t.ok(
    answers.every((answer) => answer.status === 201 || answer.body.code === 'insufficient_stock'),
    'the others were refused for stock',
  );
  t.equal(await countRows(shop.orders.db, 'orders'), 5);
  const stock = await shop.inventory.db('stock').where({ product_id: lamp.id }).first();
  t.same([stock.on_hand, stock.reserved, stock.available], [5, 5, 0]);
});
