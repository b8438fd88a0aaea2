import t from 'tap';
import { testCards } from '@mercado/payments/testing';
import { startCheckoutSystem } from './system.js';

/**
 * The harness's restarts of orders and the gateway (system.ts), which the failure tests of other
 * parts build on: each comes back where its callers expect it (orders on its port and database,
 * the gateway on its port), and an order placed before the restarts is paid after them.
 */
t.test('orders and the gateway restarted: an order from before is paid after', async (t) => {
  const system = await startCheckoutSystem(t);
  const ana = await system.register('Ana');
  const lamp = await system.sell();
  const before = await system.placeOrder(ana, [{ productId: lamp.id, quantity: 1 }]);

  await system.stopOrders();
  t.match(
    await system.api(ana, 'GET', `/api/orders/${before.id}`),
    { status: 503 },
    'the gateway cannot reach orders',
  );
  const orders = await system.startOrders();
  t.equal(system.shop.orders, orders, 'the shop holds the running orders');
  await system.stopGateway();
  await system.startGateway();
  await system.ready();

  const paid = await system.pay(ana, before.id, testCards.approved);
  t.equal(paid.status, 200);
  await system.settled(before.id, ['paid']);
  const after = await system.buyAndPay(ana, testCards.approved);
  t.equal(after.payment.status, 200);
  await system.settled(after.order.id, ['paid']);
});
