import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { Identity } from '@mercado/common/identity';
import { eventually } from '@mercado/common/testing';
import { testCards } from '@mercado/payments/testing';
import { shopperStatus, startCheckoutSystem, type CheckoutSystem } from './system.js';

/**
 * Refunds of paid orders (services/orders/README.md, "Refunds"): `POST /api/orders/{id}/refund`
 * under an Idempotency-Key, the request and its result over MQTT through the real payments, the
 * order refunded or partially refunded, the shopper told live, the stock put back once, and never
 * more than was captured — under concurrency too.
 */

const admin = (): Identity & { userId: string } => ({ userId: randomUUID(), roles: ['admin'] });
const seller = (userId: string): Identity & { userId: string } => ({
  userId,
  roles: ['customer', 'seller'],
});

function refund(
  system: CheckoutSystem,
  orderId: string,
  identity: Identity,
  body: unknown,
  key: string = randomUUID(),
) {
  return system.shop.orders.call('POST', `/api/orders/${orderId}/refund`, {
    identity,
    body,
    headers: { 'idempotency-key': key },
  });
}

/** What inventory has on hand of a product in north. */
async function onHand(system: CheckoutSystem, productId: string): Promise<number> {
  const row = await system.shop.inventory
    .db('stock')
    .where({ product_id: productId, region: 'north' })
    .first();
  return row.on_hand;
}

async function paidOrder(system: CheckoutSystem, quantity = 2) {
  const shopper = await system.register('Ana');
  const lamp = await system.sell({ stock: { north: 10 }, priceMinor: 2_500 });
  const { order, payment } = await system.buyAndPay(shopper, testCards.approved, {
    lines: [{ productId: lamp.id, quantity }],
  });
  if (payment.status !== 200) throw new Error(`not paid: ${JSON.stringify(payment.body)}`);
  await system.settled(order.id, ['paid']);
  return { shopper, lamp, order };
}

/**
 * One system for the tests that only work on orders of their own (each starts its own shopper and
 * products), started by the first that needs it and stopped when the file ends.
 */
let shared: Promise<CheckoutSystem> | undefined;
const sharedSystem = () => (shared ??= startCheckoutSystem(t));

t.test(
  'a partial refund, then the rest: the order partially refunded, then refunded, the stock back once',
  async (t) => {
    const system = await sharedSystem();
    const { shopper, lamp, order } = await paidOrder(system, 2);
    const heard = await shopperStatus(t, system, shopper);
    const before = await onHand(system, lamp.id);

    const key = randomUUID();
    const body = {
      amountMinor: 2_000,
      reason: 'damaged',
      restock: [{ productId: lamp.id, quantity: 1 }],
    };
    const first = await refund(system, order.id, seller(lamp.sellerId), body, key);
    t.equal(first.status, 202);
    t.match(first.body.refund, {
      kind: 'refund',
      status: 'pending',
      amountMinor: 2_000,
      reason: 'damaged',
      requestedBy: `user:${lamp.sellerId}`,
      restock: [{ productId: lamp.id, quantity: 1 }],
    });
    const again = await refund(system, order.id, seller(lamp.sellerId), body, key);
    t.equal(again.status, 202);
    t.equal(again.headers.get('idempotent-replayed'), 'true');
    t.equal(again.body.refund.refundId, first.body.refund.refundId, 'the same key: the one refund');

    const partly = await system.settled(order.id, ['partially_refunded']);
    t.equal(partly.status, 'partially_refunded');
    await eventually('the shopper hears it', () =>
      heard.some((event) => event.orderId === order.id && event.status === 'partially_refunded'),
    );
    await eventually(
      'one unit back on hand',
      async () => (await onHand(system, lamp.id)) === before + 1,
    );

    const rest = await refund(system, order.id, admin(), {
      reason: 'customer_request',
      restock: true,
    });
    t.equal(rest.status, 202);
    t.equal(rest.body.refund.amountMinor, 5_000 - 2_000, 'all that is left');
    t.strictSame(
      rest.body.refund.restock,
      [{ productId: lamp.id, quantity: 1 }],
      'what is left to restock',
    );
    await system.settled(order.id, ['refunded']);
    await eventually('the shopper hears it', () =>
      heard.some((event) => event.orderId === order.id && event.status === 'refunded'),
    );
    await eventually('both units back', async () => (await onHand(system, lamp.id)) === before + 2);

    const view = await system.order(shopper, order.id);
    t.match(view, { status: 'refunded', refundedMinor: 5_000 });
    t.same(
      view.refunds.map((r: { status: string; amountMinor: number }) => [r.status, r.amountMinor]),
      [
        ['succeeded', 2_000],
        ['succeeded', 3_000],
      ],
    );
    t.ok(
      view.history.some((entry: { to: string }) => entry.to === 'refunded'),
      'in the history',
    );
    const audit = await system.db
      .payments('payment_events')
      .where({ order_id: order.id, type: 'payment_refunded' });
    t.same(
      audit.map((row) => Number(row.amount_minor)).sort(),
      [2_000, 3_000],
      'in the payments audit',
    );

    t.match(await refund(system, order.id, admin(), { reason: 'other' }), {
      status: 409,
      body: { code: 'order_state_conflict' },
    });
    t.equal(await onHand(system, lamp.id), before + 2, 'restocked once each');
  },
);

t.test(
  '10 concurrent partial refunds that together exceed the capture: only those that fit',
  async (t) => {
    const system = await sharedSystem();
    const { order } = await paidOrder(system, 2); // 5,000
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        refund(system, order.id, admin(), { amountMinor: 700, reason: 'other' }),
      ),
    );
    const accepted = answers.filter((answer) => answer.status === 202);
    t.equal(accepted.length, 7, '7 × 700 fit in 5,000');
    t.ok(
      answers
        .filter((answer) => answer.status !== 202)
        .every((answer) => answer.status === 409 && answer.body.code === 'refund_exceeds_captured'),
    );
    await eventually('every accepted refund settled', async () => {
      const rows = await system.shop.orders
        .db('refunds')
        .where({ order_id: order.id, status: 'succeeded' });
      return rows.length === 7;
    });
    const payment = await system.db
      .payments('payments')
      .where({ order_id: order.id, status: 'succeeded' })
      .first();
    t.equal(Number(payment.refunded_minor), 4_900, 'payments gave back exactly what fit');
    t.match(await system.settled(order.id, ['partially_refunded']), {
      status: 'partially_refunded',
    });
    t.equal(
      Number(
        (await system.shop.orders.db('orders').where({ id: order.id }).first()).refunded_minor,
      ),
      4_900,
    );
  },
);

t.test('who may refund, and bad input: a 4xx with a stable code, nothing changed', async (t) => {
  const system = await sharedSystem();
  const { shopper, lamp, order } = await paidOrder(system, 1);
  const other = await system.sell({ stock: { north: 5 } });
  const cases: Array<[string, Identity, unknown, number, string, string?]> = [
    [
      'the shopper',
      { userId: shopper.userId, roles: ['customer'] },
      { reason: 'other' },
      403,
      'forbidden',
    ],
    ['a seller of none of it', seller(other.sellerId), { reason: 'other' }, 404, 'order_not_found'],
    ['an unknown reason', admin(), { reason: 'because' }, 400, 'validation_failed'],
    ['a negative amount', admin(), { amountMinor: -1, reason: 'other' }, 400, 'validation_failed'],
    [
      'a fractional amount',
      admin(),
      { amountMinor: 1.5, reason: 'other' },
      400,
      'validation_failed',
    ],
    [
      'an amount as text',
      admin(),
      { amountMinor: '100', reason: 'other' },
      400,
      'validation_failed',
    ],
    ['a huge amount', admin(), { amountMinor: 1e15, reason: 'other' }, 400, 'validation_failed'],
    [
      'more than captured',
      admin(),
      { amountMinor: 2_501, reason: 'other' },
      409,
      'refund_exceeds_captured',
    ],
    ['an unknown field', admin(), { reason: 'other', note: 'x' }, 400, 'validation_failed'],
    ['a NUL in the reason', admin(), { reason: 'other\u0000' }, 400, 'validation_failed'],
    [
      'restock of another product',
      admin(),
      { reason: 'other', restock: [{ productId: other.id, quantity: 1 }] },
      422,
      'restock_exceeds_ordered',
    ],
    [
      'restock of more than ordered',
      admin(),
      { reason: 'other', restock: [{ productId: lamp.id, quantity: 2 }] },
      422,
      'restock_exceeds_ordered',
    ],
  ];
  for (const [what, identity, body, status, code] of cases) {
    const answer = await refund(system, order.id, identity, body);
    t.equal(answer.status, status, what);
    if (code !== 'forbidden') t.equal(answer.body.code, code, `${what}: ${code}`);
    t.match(answer.headers.get('content-type'), /problem\+json/, `${what}: problem+json`);
  }
  t.match(await refund(system, randomUUID(), admin(), { reason: 'other' }), {
    status: 404,
    body: { code: 'order_not_found' },
  });
  t.match(await refund(system, 'not-a-uuid', admin(), { reason: 'other' }), { status: 400 });
  t.match(
    await system.shop.orders.call('POST', `/api/orders/${order.id}/refund`, {
      identity: admin(),
      body: { reason: 'other' },
    }),
    { status: 400, body: { code: 'idempotency_key_required' } },
  );
  const unpaid = await system.placeOrder(shopper, [{ productId: other.id, quantity: 1 }]);
  t.match(await refund(system, unpaid.id, admin(), { reason: 'other' }), {
    status: 409,
    body: { code: 'order_state_conflict' },
  });
  t.same(
    await system.shop.orders.db('refunds').where({ order_id: order.id }),
    [],
    'nothing recorded',
  );
  t.match(await system.shop.orders.db('orders').where({ id: order.id }).first(), {
    status: 'paid',
    refunded_minor: 0,
  });
});

t.test(
  'a refund asked while payments is down is asked again by the sweeper, and made once',
  async (t) => {
    const system = await startCheckoutSystem(t);
    const { order } = await paidOrder(system, 1);
    await system.stopPayments();
    const asked = await refund(system, order.id, admin(), { reason: 'not_delivered' });
    t.equal(asked.status, 202);
    // Relayed to the broker with no payments replica subscribed: the request itself is lost.
    await eventually('the request relayed', async () => {
      const unsent = await system.db.orders('outbox').whereNull('sent_at');
      return unsent.length === 0;
    });
    await eventually('asked again while payments is down', async () => {
      const row = await system.db
        .orders('refunds')
        .where({ refund_id: asked.body.refund.refundId })
        .first();
      return row?.asked_at !== null;
    });
    await system.startPayments();
    await system.settled(order.id, ['refunded']);
    const { payment_id: paymentId } = await system.db
      .orders('orders')
      .where({ id: order.id })
      .first('payment_id');
    const refunds = await system.db.payments('refunds').where({ payment_id: paymentId });
    t.same(
      refunds.map((row) => [row.id, Number(row.amount_minor), row.status]),
      [[asked.body.refund.refundId, 2_500, 'succeeded']],
      'one refund at payments, whatever it heard',
    );
    const payment = await system.db.payments('payments').where({ id: paymentId }).first();
    t.equal(Number(payment.refunded_minor), 2_500);
  },
);
