import t, { type Test } from 'tap';
import { testCards } from '@mercado/payments/testing';
import { startCheckoutSystem, type CheckoutSystem } from './system.js';

/**
 * Payments down (issue 11, "The failure modes the anchors have"): the checkout still creates the
 * order (it needs products and inventory, not payments); paying answers 202 (the request is
 * published, no result comes within PAYMENT_WAIT_MS: gateway/README.md, "Paying an order") or 503
 * (no broker to publish on); once payments is back, paying again under the same Idempotency-Key
 * charges once, and the order ends paid with its stock committed.
 */

/** The gateway gives up waiting after a second: a test with payments down needs the 202. */
const paymentWaitMs = 1_000;

/** The order paid once: one payment row, succeeded; the order paid; its stock committed. */
async function expectChargedOnce(t: Test, system: CheckoutSystem, orderId: string) {
  await system.settled(orderId, ['paid']);
  const rows = await system.db.payments('payments').where({ order_id: orderId });
  t.equal(rows.length, 1, 'one payment row');
  t.equal(rows[0]?.status, 'succeeded', 'charged');
  const events = await system.db
    .payments('payment_events')
    .where({ order_id: orderId, type: 'payment_approved' });
  t.equal(events.length, 1, 'one approval in the audit');
}

t.test(
  'payments down after the checkout: 202, then paid once under the same key when it is back',
  async (t) => {
    const system = await startCheckoutSystem(t, { paymentWaitMs });
    const ana = await system.register('Ana');
    const lamp = await system.sell({ stock: { north: 4 } });
    const order = await system.placeOrder(ana, [{ productId: lamp.id, quantity: 1 }]);

    await system.stopPayments();
    const key = `pay-${order.id}`;
    const waiting = await system.pay(ana, order.id, testCards.approved, { key });
    t.match(waiting.status, /^(202|503)$/, 'not paid, not refused');
    if (waiting.status === 202) {
      t.match(waiting.body, { status: 'processing', orderId: order.id });
      t.equal(waiting.headers.get('location'), `/api/orders/${order.id}`);
    }
    t.equal((await system.order(ana, order.id)).status, 'awaiting_payment');

    await system.startPayments();
    await system.ready();
    const paid = await system.pay(ana, order.id, testCards.approved, { key });
    t.match(paid.status, /^(200|202)$/, 'paid (or on its way)');
    await expectChargedOnce(t, system, order.id);

    // And again, as a shopper who did not see the answer would: the first result, no charge.
    const repeated = await system.pay(ana, order.id, testCards.approved, { key });
    t.equal(repeated.status, 200);
    t.equal(
      repeated.body.paymentId,
      (await system.db.payments('payments').where({ order_id: order.id }).first()).id,
    );
    await expectChargedOnce(t, system, order.id);
    const stock = await system.shop.inventory.db('stock').where({ product_id: lamp.id }).first();
    t.same([stock.on_hand, stock.reserved], [3, 0], 'the unit left stock');
  },
);

t.test(
  'payments down during the checkout: the order is created, paid once payments is back',
  async (t) => {
    /*
     * Orders' relay publishes the intent at checkout; the broker acknowledges it, and with no
     * member in `$share/payments` gives it to nobody. Once payments is back, orders' next question
     * about its unpaid orders is answered `unknown` for this one, and orders sends the intent
     * again: the order can be paid.
     */
    const system = await startCheckoutSystem(t, { paymentWaitMs });
    const ana = await system.register('Ana');
    const lamp = await system.sell();
    await system.stopPayments();

    const order = await system.placeOrder(ana, [{ productId: lamp.id, quantity: 1 }], {
      intent: false,
    });
    t.equal(order.status, 'awaiting_payment', 'the checkout needs no payments');
    const key = `pay-${order.id}`;
    const waiting = await system.pay(ana, order.id, testCards.approved, { key });
    t.match(waiting.status, /^(202|503)$/, 'not paid, not refused');

    await system.startPayments();
    await system.ready();
    // Sent again by orders once payments answered `unknown` for it.
    await system.intentKnown(order.id);
    const paid = await system.pay(ana, order.id, testCards.approved, { key });
    t.match(paid.status, /^(200|202)$/, JSON.stringify(paid.body));
    await expectChargedOnce(t, system, order.id);
  },
);

t.test('one replica of two down: every payment is still answered, each charged once', async (t) => {
  const system = await startCheckoutSystem(t, { payments: 2 });
  const ana = await system.register('Ana');
  const lamp = await system.sell();
  await system.stopPayments(0);
  for (let i = 0; i < 5; i++) {
    const { order, payment } = await system.buyAndPay(ana, testCards.approved, {
      lines: [{ productId: lamp.id, quantity: 1 }],
    });
    t.equal(payment.status, 200, 'paid by the replica left');
    await expectChargedOnce(t, system, order.id);
  }
  t.equal(system.processedBy(system.payments[0]!), 5, 'the live replica did them all');
});
