import { randomUUID } from 'node:crypto';
import t from 'tap';
import { eventually } from '@mercado/common/testing';
import { testCards } from '@mercado/payments/testing';
import { connectTerminal, type TestTerminal } from '@mercado/payments/testing/terminals';
import {
  shopperStatus,
  startCheckoutSystem,
  type CheckoutSystem,
  type Shopper,
} from '../checkout/system.js';

/**
 * A shop's terminal pays an online order by the pay code its shopper shows (orders' README, "The
 * checkout"; payments' README, "Terminals"), through the whole system: orders issues the code and
 * learns of the payment like any other, the shopper hears it live, and an order paid online and at
 * a terminal at once is charged once. The terminal is the payments test export's MQTT client,
 * vouched for by the test broker's stand-in registry.
 */

t.setTimeout(300_000);

async function placed(system: CheckoutSystem, shopper: Shopper, priceMinor = 2_500) {
  const lamp = await system.sell({ stock: { north: 10 }, priceMinor });
  const order = await system.placeOrder(shopper, [{ productId: lamp.id, quantity: 2 }]);
  const view = await system.order(shopper, order.id);
  return { lamp, order: view };
}

async function payByCode(terminal: TestTerminal, payCode: string) {
  return terminal.ask({
    type: 'terminal.order_payment_requested',
    requestId: randomUUID(),
    payCode,
    card: await terminal.card(),
  });
}

async function succeededCharges(system: CheckoutSystem, orderId: string): Promise<number> {
  const rows = await system.db
    .payments('payments')
    .where({ order_id: orderId, status: 'succeeded' });
  return rows.length;
}

/**
 * One system for the tests that only work on orders of their own (each starts its own shopper and
 * products), started by the first that needs it and stopped when the file ends.
 */
let shared: Promise<CheckoutSystem> | undefined;
const sharedSystem = () => (shared ??= startCheckoutSystem(t));

t.test(
  'a terminal pays an order by its code: the order paid once, the shopper told live, a reversal refunds it',
  async (t) => {
    const system = await sharedSystem();
    const shopper = await system.register('Ana');
    const heard = await shopperStatus(t, system, shopper);
    const { order } = await placed(system, shopper);
    t.match(order.payCode, /^[0-9A-HJKMNP-TV-Z]{8}$/, 'the order shows its pay code');
    const terminal = await connectTerminal(t, system.broker);

    // As the shopper reads it out and the shop types it: grouped, in lower case.
    const answer = await payByCode(
      terminal,
      `${order.payCode.slice(0, 4)}-${order.payCode.slice(4)}`.toLowerCase(),
    );
    t.match(answer, {
      request: 'order_payment',
      result: 'success',
      orderId: order.id,
      amountMinor: 5_000,
      currency: 'EUR',
      transactionId: /^sbx_ch_/,
      paymentId: /^[0-9a-f-]{36}$/,
    });
    await system.settled(order.id, ['paid']);
    await eventually('the shopper heard it paid', () =>
      heard.find((status) => status.orderId === order.id && status.status === 'paid'),
    );
    const paid = await system.order(shopper, order.id);
    t.match(paid, {
      status: 'paid',
      payments: [{ outcome: 'approved', paymentId: answer.paymentId, amountMinor: 5_000 }],
    });
    t.equal(paid.payments.length, 1);

    const twice = await payByCode(terminal, order.payCode);
    t.match(twice, { result: 'failure', errorCondition: 'order_already_paid' }, 'paid is paid');
    const online = await system.pay(shopper, order.id, testCards.approved);
    t.not(online.status, 200, 'nor paid online afterwards');
    t.equal(await succeededCharges(system, order.id), 1, 'one charge');

    // The shop gives the money back at the till: orders learns it as a refund of the order.
    const reversal = await terminal.ask({
      type: 'terminal.reversal_requested',
      requestId: randomUUID(),
      transactionId: answer.transactionId!,
      reason: 'customer_request',
    });
    t.match(reversal, { result: 'success', amountMinor: 5_000 });
    await eventually('the order refunded', async () => {
      const view = await system.order(shopper, order.id);
      return view.status === 'refunded' ? view : undefined;
    });
    const refunded = await system.order(shopper, order.id);
    t.match(refunded, {
      refundedMinor: 5_000,
      refunds: [{ kind: 'reversal', status: 'succeeded', amountMinor: 5_000 }],
    });
    await eventually('the shopper heard it refunded', () =>
      heard.find((status) => status.orderId === order.id && status.status === 'refunded'),
    );
  },
);

t.test(
  'a cancelled order cannot be paid at a terminal; an unknown code pays nothing',
  async (t) => {
    const system = await sharedSystem();
    const shopper = await system.register('Bea');
    const { order } = await placed(system, shopper);
    const cancelled = await system.api(shopper, 'POST', `/api/orders/${order.id}/cancel`);
    t.equal(cancelled.status, 200);
    await system.settled(order.id, ['cancelled']);
    const terminal = await connectTerminal(t, system.broker);
    await eventually('payments closed the cancelled intent', async () => {
      const answer = await payByCode(terminal, order.payCode);
      return answer.errorCondition === 'order_not_payable' ? answer : undefined;
    });
    t.match(await payByCode(terminal, 'ZZZZZZZZ'), {
      result: 'failure',
      errorCondition: 'unknown_pay_code',
    });
    t.equal(await succeededCharges(system, order.id), 0, 'nothing charged');
  },
);

t.test('an order paid online and at a terminal at once is charged once', async (t) => {
  const system = await sharedSystem();
  const shopper = await system.register('Carla');
  const terminal = await connectTerminal(t, system.broker);
  for (let round = 0; round < 3; round++) {
    const { order } = await placed(system, shopper);
    const [online, atTerminal] = await Promise.all([
      system.pay(shopper, order.id, testCards.approved),
      payByCode(terminal, order.payCode),
    ]);
    const onlineWon = online.status === 200 && online.body.status === 'succeeded';
    const terminalWon = atTerminal.result === 'success';
    t.ok(onlineWon !== terminalWon, `round ${round}: exactly one of the two paid`, {
      online: online.body,
      atTerminal,
    });
    if (!terminalWon) {
      t.match(atTerminal, { errorCondition: /^(order_already_paid|payment_in_progress)$/ });
    }
    await system.settled(order.id, ['paid']);
    t.equal(await succeededCharges(system, order.id), 1, `round ${round}: one charge`);
    const view = await system.order(shopper, order.id);
    t.equal(
      view.payments.filter((payment: { outcome: string }) => payment.outcome === 'approved').length,
      1,
      'orders saw one approval',
    );
  }
});
