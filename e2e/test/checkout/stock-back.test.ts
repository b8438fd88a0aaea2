import t from 'tap';
import { testCards } from '@mercado/payments/testing';
import { startCheckoutSystem, type CheckoutSystem } from './system.js';

/**
 * Declined, cancelled → stock available again (issue 11, "The failure modes the anchors have"),
 * read as a shopper reads it: the gateway's `GET /api/inventory/{id}`. A decline keeps the units
 * held, so the shopper may retry until the deadline (services/orders/README.md); the shopper's
 * cancel gives them back at once. (Expiry giving them back is left to the expiry work.)
 */

/** What the shop shows as available of a product in north. */
async function available(system: CheckoutSystem, productId: string): Promise<number> {
  const answer = await system.api(undefined, 'GET', `/api/inventory/${productId}`);
  return answer.body.regions.find((region: { region: string }) => region.region === 'north')
    .available;
}

t.test('declined, then cancelled by the shopper: the stock is available again', async (t) => {
  const system = await startCheckoutSystem(t);
  const ana = await system.register('Ana');
  const lamp = await system.sell({ stock: { north: 5 } });
  const before = await available(system, lamp.id);

  const { order, payment } = await system.buyAndPay(ana, testCards.declined, {
    lines: [{ productId: lamp.id, quantity: 3 }],
  });
  t.equal(payment.status, 402);
  t.match(payment.body, { code: 'payment_declined', reason: 'card_declined' });
  await system.settled(order.id, ['payment_failed']);
  t.equal(await available(system, lamp.id), before - 3, 'held for a retry after the decline');

  const cancelled = await system.api(ana, 'POST', `/api/orders/${order.id}/cancel`);
  t.equal(cancelled.status, 200);
  await system.settled(order.id, ['cancelled']);
  t.equal(await available(system, lamp.id), before, 'available again');
  t.same(await system.db.payments('payments').where({ status: 'succeeded' }), [], 'no charge');
});

t.test('cancelled before paying: the stock is available again', async (t) => {
  const system = await startCheckoutSystem(t);
  const ana = await system.register('Ana');
  const lamp = await system.sell({ stock: { north: 2 } });
  const order = await system.placeOrder(ana, [{ productId: lamp.id, quantity: 2 }]);
  t.equal(await available(system, lamp.id), 0, 'all of it reserved');
  // Another shopper cannot have it meanwhile.
  const ben = await system.register('Ben');
  const refused = await system.api(ben, 'POST', '/api/cart/items', {
    body: { productId: lamp.id, quantity: 1 },
  });
  t.not(refused.status, 200, 'none left to add');

  t.equal((await system.api(ana, 'POST', `/api/orders/${order.id}/cancel`)).status, 200);
  await system.settled(order.id, ['cancelled']);
  t.equal(await available(system, lamp.id), 2, 'available again');
  const bought = await system.buyAndPay(ben, testCards.approved, {
    lines: [{ productId: lamp.id, quantity: 2 }],
  });
  t.equal(bought.payment.status, 200, 'and another shopper buys it');
  await system.settled(bought.order.id, ['paid']);
  t.equal(await available(system, lamp.id), 0);
});

t.test('declined, then paid with another card: the units leave stock once', async (t) => {
  const system = await startCheckoutSystem(t);
  const ana = await system.register('Ana');
  const lamp = await system.sell({ stock: { north: 5 } });
  const { order, payment } = await system.buyAndPay(ana, testCards.insufficientFunds, {
    lines: [{ productId: lamp.id, quantity: 2 }],
  });
  t.match(payment.body, { code: 'payment_declined', reason: 'insufficient_funds' });
  await system.settled(order.id, ['payment_failed']);
  const retried = await system.pay(ana, order.id, testCards.mastercard);
  t.equal(retried.status, 200);
  await system.settled(order.id, ['paid']);
  const stock = await system.shop.inventory.db('stock').where({ product_id: lamp.id }).first();
  t.same([stock.on_hand, stock.reserved, stock.available], [3, 0, 3]);
});
