import t, { type Test } from 'tap';
import { eventually } from '@mercado/common/testing';
import { testCards } from '@mercado/payments/testing';
import { startCheckoutSystem, type CheckoutSystem, type Shopper } from './system.js';

/**
 * Broker restarted mid-checkout (issue 11, "The failure modes the anchors have"): whenever the
 * broker goes away — after the order is placed, while the charge is being made, right after the
 * checkout — the order still ends paid (or payment_failed), never stuck awaiting payment, and its
 * reservation in inventory ends committed, none left hanging. The broker keeps nothing in memory
 * across the restart (no persistence), the harshest case: sessions, retained messages and QoS 1
 * messages in flight are gone, and every client reconnects by itself.
 */

const ordersService = { roles: [], service: 'orders' };

/** Inventory's own word on the order's reservation (not orders' copy of it). */
async function reservationStatus(system: CheckoutSystem, orderId: string): Promise<string> {
  const answer = await system.shop.callInventory('GET', `/internal/reservations/${orderId}`, {
    identity: ordersService,
  });
  return answer.body.status;
}

/** Pays, asking again under the same key while the gateway has no broker to publish on (503). */
async function payThroughRestart(
  system: CheckoutSystem,
  shopper: Shopper,
  orderId: string,
  number: string,
  key: string,
) {
  for (;;) {
    const answer = await system.pay(shopper, orderId, number, { key });
    if (answer.status !== 503) return answer;
    await system.ready();
  }
}

/** The end every checkout must reach: paid, the stock committed in inventory, charged once. */
async function expectPaidOnce(t: Test, system: CheckoutSystem, orderId: string) {
  const settled = await system.settled(orderId, ['paid', 'payment_failed']);
  t.equal(settled.status, 'paid', `${orderId.slice(0, 8)}: paid`);
  t.equal(await reservationStatus(system, orderId), 'committed', 'the reservation committed');
  const charges = await system.db.payments('payments').where({ order_id: orderId });
  t.equal(charges.filter((charge) => charge.status === 'succeeded').length, 1, 'charged once');
}

t.test('the broker restarted between the checkout and the payment', async (t) => {
  const system = await startCheckoutSystem(t);
  const ana = await system.register('Ana');
  const lamp = await system.sell({ stock: { north: 5 } });
  const order = await system.placeOrder(ana, [{ productId: lamp.id, quantity: 2 }]);

  await system.restartBroker();
  const answer = await payThroughRestart(system, ana, order.id, testCards.approved, 'pay-1');
  t.equal(answer.status, 200, 'paid once the broker is back');
  await expectPaidOnce(t, system, order.id);
  const stock = await system.shop.inventory.db('stock').where({ product_id: lamp.id }).first();
  t.same([stock.on_hand, stock.reserved], [3, 0], 'the units left stock, none still reserved');
});

/**
 * The charge's result goes out of payments' outbox as soon as payments is back on the broker; if
 * orders has not subscribed again by then, the `$share/orders` group has no member and the broker
 * gives the result to nobody. Orders' reconciliation (it asks payments about its unpaid orders,
 * and payments publishes the result again) settles it: the order ends paid all the same.
 */
t.test(
  'the broker restarted while the card is being charged: paid once, a result the broker lost brought in by orders’ reconciliation',
  async (t) => {
    // The slow test card holds the charge open long enough for the restart to land inside it most
    // of the time; when it does not, the restart comes just after, which must end the same way.
    const system = await startCheckoutSystem(t, {
      paymentsEnv: { PROCESSOR_SLOW_CARD_DELAY_MS: '500' },
      paymentWaitMs: 2_000,
    });
    const ana = await system.register('Ana');
    const lamp = await system.sell();
    for (let round = 0; round < 3; round++) {
      const order = await system.placeOrder(ana, [{ productId: lamp.id, quantity: 1 }]);
      const paying = system.pay(ana, order.id, testCards.slow, { key: `pay-${order.id}` });
      await waitForCharge(system, order.id);
      await system.restartBroker();
      // Whatever the shopper was told (the result, 202 while it was lost to the restart, or 503),
      // the order settles by itself: the shopper need not pay again.
      t.match((await paying).status, /^(200|202|503)$/, 'the payment call answered');
      await expectPaidOnce(t, system, order.id);
      await system.ready();
    }
  },
);

t.test('the broker restarted right after the checkout, the intent perhaps in flight', async (t) => {
  const system = await startCheckoutSystem(t);
  const ana = await system.register('Ana');
  const lamp = await system.sell();
  for (let round = 0; round < 3; round++) {
    const order = await system.placeOrder(ana, [{ productId: lamp.id, quantity: 1 }], {
      intent: false,
    });
    await system.restartBroker();
    await system.ready();
    // The shopper pays as soon as the checkout answered; payments refuses a payment whose intent
    // it has not heard of (unknown_order, 404), which the storefront asks again.
    const answer = await eventually('a payment payments can match to its intent', async () => {
      const paid = await payThroughRestart(system, ana, order.id, testCards.approved, `k-${round}`);
      return paid.body?.code === 'unknown_order' ? undefined : paid;
    });
    t.equal(answer.status, 200, 'paid');
    await expectPaidOnce(t, system, order.id);
  }
});

/** Waits until payments has started charging the order (its payment row is in). */
function waitForCharge(system: CheckoutSystem, orderId: string) {
  return eventually('the charge started', () =>
    system.db.payments('payments').where({ order_id: orderId }).first(),
  );
}
