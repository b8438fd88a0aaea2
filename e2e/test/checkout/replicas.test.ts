import t from 'tap';
import { eventually } from '@mercado/common/testing';
import { startCheckoutSystem } from './system.js';

/**
 * 3 payments replicas, 300 paid orders → 300 charges, every replica did some (issue 11, "The
 * failure modes the anchors have"). The replicas share `payments/requests` through the broker's
 * `$share/payments` group, so each request reaches one of them: which one is told by its own
 * log (`payment processed`, one line per charge it made; each replica logs to its own capture).
 * Fifteen shoppers buy twenty orders each, fifteen checkouts at a time, through the gateway.
 */

const shoppers = 15;
const ordersEach = 20;
const total = shoppers * ordersEach;

// 300 whole checkouts take most of tap's 120 s per file on a 2-core machine others are loading
// (nothing here is timed: this is the file's budget, not an assertion); tap's runner honours it.
t.setTimeout(600_000);

t.test(
  `3 payments replicas, ${total} paid orders: ${total} charges, each replica some`,
  async (t) => {
    const system = await startCheckoutSystem(t, { payments: 3 });
    const lamp = await system.sell({ stock: { north: 1_000 } });
    const buyers = await Promise.all(
      Array.from({ length: shoppers }, (_, i) => system.register(`Buyer ${i}`)),
    );

    const answers = await Promise.all(
      buyers.map(async (buyer) => {
        const statuses: number[] = [];
        for (let i = 0; i < ordersEach; i++) {
          const { payment } = await system.buyAndPay(buyer, undefined, {
            lines: [{ productId: lamp.id, quantity: 1 }],
          });
          statuses.push(payment.status);
        }
        return statuses;
      }),
    );
    t.same(
      answers.flat().filter((status) => status !== 200),
      [],
      'every payment answered 200',
    );

    const failures = system.shop.orders.logs.lines.filter((line) => Number(line.level) >= 50);
    t.comment(
      `${system.unavailableCheckouts} checkouts asked again after a 503;`,
      JSON.stringify(
        failures.slice(0, 5).map((line) => [line.msg, line.status, line.code, line.call]),
      ),
    );
    const charges = await system.db.payments('payments').select('order_id', 'status');
    t.equal(charges.length, total, `${total} payment rows`);
    t.equal(new Set(charges.map((charge) => charge.order_id)).size, total, 'one per order');
    t.same([...new Set(charges.map((charge) => charge.status))], ['succeeded'], 'all approved');

    const byReplica = system.payments.map((replica) =>
      system.processedBy(replica, 'payment.approved'),
    );
    t.equal(
      byReplica.reduce((sum, count) => sum + count, 0),
      total,
      `the replicas made ${total} charges between them (${byReplica.join(' + ')})`,
    );
    for (const [index, count] of byReplica.entries()) t.ok(count > 0, `replica ${index} did some`);

    await eventually('every order paid, its stock committed', async () => {
      const paid = await system.db
        .orders('orders')
        .where({ status: 'paid', reservation: 'committed' })
        .count<Array<{ n: string }>>('* as n');
      return Number(paid[0]!.n) === total;
    });
    const stock = await system.shop.inventory.db('stock').where({ product_id: lamp.id }).first();
    t.same([stock.on_hand, stock.reserved], [1_000 - total, 0], 'the units left stock');
  },
);
