import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { Identity } from '@mercado/common/identity';
import { testServiceMqttCredentials } from '@mercado/common/testing';
import {
  answerStatus,
  as,
  checkout,
  countRows,
  eventually,
  listenAs,
  pastExpiry,
  publishResult,
  startBroker,
  startShop,
  type Listener,
  type Shop,
} from './shop.js';

const ordersService: Identity = { roles: [], service: 'orders' };

async function startWired(t: { teardown(fn: () => unknown): void }) {
  const mqttUrl = await startBroker(t);
  const payments = await listenAs(t, mqttUrl, 'payments', ['payments/intents', 'payments/refunds']);
  const gateway = await listenAs(t, mqttUrl, 'gateway', ['orders/+/+/status']);
  const shop = await startShop(t, { MQTT_URL: mqttUrl });
  const lamp = await shop.sell({ priceMinor: 4_500, stock: { north: 10 } });
  return { shop, payments, gateway, lamp };
}

function statusHeard(gateway: Listener, orderId: string, status: string) {
  return gateway.next(
    (message) => message.payload.orderId === orderId && message.payload.status === status,
  );
}

/** The log line of an applied result: a repeat is logged as a duplicate, and changes nothing. */
function applied(shop: Shop, eventId: string, times = 1) {
  return eventually(
    () =>
      shop.orders.logs.lines.filter(
        (line) => line.msg === 'payment result applied' && line.eventId === eventId,
      ).length >= times,
  );
}

async function reservationOf(shop: Shop, orderId: string) {
  return (
    await shop.callInventory('GET', `/internal/reservations/${orderId}`, {
      identity: ordersService,
    })
  ).body;
}

t.test('approved: paid once however often it is delivered, the stock committed', async (t) => {
  const { shop, payments, gateway, lamp } = await startWired(t);
  const user = as.customer();
  const placed = await checkout(shop, user, [{ productId: lamp.id, quantity: 2 }]);
  const id = placed.body.id;
  const paymentId = randomUUID();
  const result = await publishResult(payments, {
    type: 'payment.approved',
    orderId: id,
    paymentId,
    amountMinor: 9_000,
    currency: 'EUR',
    transactionId: 'txn-1',
    cardBrand: 'visa',
    cardLast4: '4242',
  });
  await statusHeard(gateway, id, 'paid');
  // The same result twice more (QoS 1 redelivery, a broker cluster's duplicates).
  for (let i = 0; i < 2; i++) {
    await payments.client.publishAsync(`payments/results/${id}`, JSON.stringify(result), {
      qos: 1,
    });
  }
  await applied(shop, result.id, 3);
  const duplicates = shop.orders.logs.lines.filter(
    (line) => line.eventId === result.id && line.outcome === 'duplicate',
  );
  t.equal(duplicates.length, 2, 'the repeats were recognised');

  await eventually(async () => (await reservationOf(shop, id)).status === 'committed');
  const stock = await shop.inventory.db('stock').where({ product_id: lamp.id }).first();
  t.same([stock.on_hand, stock.reserved], [8, 0], 'the units left stock');

  const order = await shop.orders.call('GET', `/api/orders/${id}`, { identity: user });
  t.match(order.body, {
    status: 'paid',
    history: [
      { to: 'awaiting_payment' },
      {
        from: 'awaiting_payment',
        to: 'paid',
        cause: 'payment approved',
        actor: 'service:payments',
      },
    ],
  });
  t.equal(order.body.history.length, 2, 'one move, however many deliveries');
  t.same(order.body.payments, [
    {
      paymentId,
      outcome: 'approved',
      reason: null,
      amountMinor: 9_000,
      cardBrand: 'visa',
      cardLast4: '4242',
      at: result.at.replace(/(\.\d{3})?Z$/, (m) => (m.length > 1 ? m : '.000Z')),
    },
  ]);
  t.same(Object.keys(order.body.payments[0]).sort(), [
    'amountMinor',
    'at',
    'cardBrand',
    'cardLast4',
    'outcome',
    'paymentId',
    'reason',
  ]);
  t.equal((await shop.orders.db('orders').where({ id }).first()).reservation, 'committed');
  t.equal(
    gateway.heard.filter(
      (message) => message.payload.orderId === id && message.payload.status === 'paid',
    ).length,
    1,
    'one status event',
  );
});

t.test(
  'declined: payment_failed with the reason, paid on a retry; a refusal only recorded; a refund orders never asked for (a reversal at a terminal) applied as one',
  async (t) => {
    const { shop, payments, gateway, lamp } = await startWired(t);
    const user = as.customer();
    const placed = await checkout(shop, user, [{ productId: lamp.id, quantity: 1 }]);
    const id = placed.body.id;

    await publishResult(payments, {
      type: 'payment.declined',
      orderId: id,
      reason: 'insufficient_funds',
      cardBrand: 'visa',
      cardLast4: '9995',
    });
    await statusHeard(gateway, id, 'payment_failed');
    let order = await shop.orders.call('GET', `/api/orders/${id}`, { identity: user });
    t.match(order.body, {
      status: 'payment_failed',
      failureReason: 'insufficient_funds',
      history: [
        {},
        {
          from: 'awaiting_payment',
          to: 'payment_failed',
          cause: 'payment declined: insufficient_funds',
        },
      ],
    });
    t.match(
      await reservationOf(shop, id),
      { status: 'active' },
      'the stock stays held for a retry',
    );

    const refused = await publishResult(payments, {
      type: 'payment.refused',
      orderId: id,
      reason: 'payment_in_progress',
    });
    await applied(shop, refused.id);
    order = await shop.orders.call('GET', `/api/orders/${id}`, { identity: user });
    t.equal(order.body.status, 'payment_failed', 'a refusal changes nothing');
    t.same(
      order.body.payments.map((p: any) => [p.outcome, p.reason]),
      [
        ['declined', 'insufficient_funds'],
        ['refused', 'payment_in_progress'],
      ],
    );

    const paymentId = randomUUID();
    await publishResult(payments, {
      type: 'payment.approved',
      orderId: id,
      paymentId,
      cardBrand: 'visa',
      cardLast4: '4242',
    });
    await statusHeard(gateway, id, 'paid');
    const refunded = await publishResult(payments, {
      type: 'payment.refunded',
      orderId: id,
      paymentId,
      reason: 'requested_by_customer',
      amountMinor: 4_500,
    });
    await applied(shop, refunded.id);
    order = await shop.orders.call('GET', `/api/orders/${id}`, { identity: user });
    t.match(order.body, {
      status: 'refunded',
      refundedMinor: 4_500,
      failureReason: null,
      history: [
        {},
        {},
        { from: 'payment_failed', to: 'paid' },
        {
          from: 'paid',
          to: 'refunded',
          cause: 'payment refunded: 4500 EUR (requested_by_customer)',
          actor: 'service:payments',
        },
      ],
      refunds: [
        {
          kind: 'reversal',
          status: 'succeeded',
          amountMinor: 4_500,
          reason: 'requested_by_customer',
          requestedBy: 'service:payments',
        },
      ],
    });
    t.equal(order.body.payments.length, 4);
  },
);

t.test(
  'approved for an order that can no longer be paid: a void is requested, never "charged and expired"; approved past its expiry but before it was closed: paid',
  async (t) => {
    const { shop, payments, gateway, lamp } = await startWired(t);
    const user = as.customer();
    const { db } = shop.orders;

    const cancelled = (await checkout(shop, user, [{ productId: lamp.id, quantity: 1 }])).body.id;
    await shop.orders.call('POST', `/api/orders/${cancelled}/cancel`, { identity: user });
    const late = randomUUID();
    await publishResult(payments, {
      type: 'payment.approved',
      orderId: cancelled,
      paymentId: late,
      amountMinor: 4_500,
      currency: 'EUR',
    });
    const refund = await payments.next(
      (message) =>
        message.payload.type === 'refund.requested' && message.payload.orderId === cancelled,
    );
    t.same(refund, {
      topic: 'payments/refunds',
      payload: {
        type: 'refund.requested',
        refundId: refund.payload.refundId,
        orderId: cancelled,
        paymentId: late,
        amountMinor: 4_500,
        reason: 'order_cancelled',
      },
    });
    const seen = await shop.orders.call('GET', `/api/orders/${cancelled}`, { identity: user });
    t.match(seen.body, {
      status: 'cancelled',
      refunds: [
        {
          refundId: refund.payload.refundId,
          paymentId: late,
          amountMinor: 4_500,
          reason: 'order_cancelled',
        },
      ],
      history: [
        {},
        { to: 'cancelled' },
        { from: 'cancelled', to: 'cancelled', cause: 'refund requested: order_cancelled' },
      ],
    });

    // Past its expiry, payments not yet asked to close it: payments approved it while the intent
    // was open, so it is paid — an order never expires after its payment succeeded.
    const overdue = (await checkout(shop, user, [{ productId: lamp.id, quantity: 3 }])).body.id;
    await pastExpiry(db, [overdue]);
    const justInTime = randomUUID();
    await publishResult(payments, {
      type: 'payment.approved',
      orderId: overdue,
      paymentId: justInTime,
    });
    await statusHeard(gateway, overdue, 'paid');
    await eventually(async () => (await reservationOf(shop, overdue)).status === 'committed');

    // Expired once payments closed it: an approval that still comes (a processor's late answer,
    // which payments voids itself) is given back, and the order stays expired.
    const closed = (await checkout(shop, user, [{ productId: lamp.id, quantity: 2 }])).body.id;
    await pastExpiry(db, [closed]);
    t.equal((await shop.orders.sweep()).expiring, 1);
    await answerStatus(payments, closed, 'closed');
    await statusHeard(gateway, closed, 'expired');
    const tooLate = randomUUID();
    await publishResult(payments, {
      type: 'payment.approved',
      orderId: closed,
      paymentId: tooLate,
    });
    const voided = await payments.next(
      (message) =>
        message.payload.type === 'refund.requested' && message.payload.orderId === closed,
    );
    t.match(voided.payload, { paymentId: tooLate, amountMinor: 9_000, reason: 'order_expired' });
    t.notOk(
      gateway.heard.some(
        (message) => message.payload.orderId === closed && message.payload.status === 'paid',
      ),
    );
    t.equal((await db('orders').where({ id: closed }).first()).status, 'expired');
    await eventually(async () => (await reservationOf(shop, closed)).status === 'released');

    // A second payment of a paid order is given back too.
    const paid = (await checkout(shop, user, [{ productId: lamp.id, quantity: 1 }])).body.id;
    const first = randomUUID();
    await publishResult(payments, { type: 'payment.approved', orderId: paid, paymentId: first });
    await statusHeard(gateway, paid, 'paid');
    const second = randomUUID();
    await publishResult(payments, { type: 'payment.approved', orderId: paid, paymentId: second });
    const duplicate = await payments.next(
      (message) =>
        message.payload.type === 'refund.requested' && message.payload.paymentId === second,
    );
    t.equal(duplicate.payload.reason, 'duplicate_payment');
    t.equal((await db('orders').where({ id: paid }).first()).payment_id, first);
    t.equal(await countRows(db, 'refunds'), 3);
  },
);

t.test('results the contract refuses, or for orders nobody has, change nothing', async (t) => {
  const { shop, payments } = await startWired(t);
  const before = await countRows(shop.orders.db, 'payment_attempts');
  await payments.client.publishAsync(
    `payments/results/${randomUUID()}`,
    '{"type":"payment.approved"}',
    { qos: 1 },
  );
  const unknown = await publishResult(payments, {
    type: 'payment.approved',
    orderId: randomUUID(),
    paymentId: randomUUID(),
  });
  await applied(shop, unknown.id);
  t.ok(
    shop.orders.logs.lines.some(
      (line) => line.msg === 'mqtt message refused by the contract; dropped',
    ),
  );
  t.equal(await countRows(shop.orders.db, 'payment_attempts'), before);
  t.equal(await countRows(shop.orders.db, 'refunds'), 0);
});

t.test(
  'a cancel racing an approval: paid, or cancelled with the payment voided — never both, never neither',
  async (t) => {
    const { shop, payments, gateway, lamp } = await startWired(t);
    const user = as.customer();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      ids.push((await checkout(shop, user, [{ productId: lamp.id, quantity: 1 }])).body.id);
    }
    const cancels = await Promise.all(
      ids.map(async (id) => {
        const [answer] = await Promise.all([
          shop.orders.call('POST', `/api/orders/${id}/cancel`, { identity: user }),
          publishResult(payments, {
            type: 'payment.approved',
            orderId: id,
            paymentId: randomUUID(),
          }),
        ]);
        return answer;
      }),
    );
    for (const [index, id] of ids.entries()) {
      const settled = await Promise.race([
        statusHeard(gateway, id, 'paid').then(() => 'paid'),
        payments
          .next(
            (message) =>
              message.payload.type === 'refund.requested' && message.payload.orderId === id,
          )
          .then(() => 'voided'),
      ]);
      const order = await shop.orders.db('orders').where({ id }).first();
      if (settled === 'paid') {
        t.equal(order.status, 'paid');
        t.match(cancels[index], { status: 409, body: { code: 'order_state_conflict' } });
      } else {
        t.equal(order.status, 'cancelled');
        t.equal(cancels[index]!.status, 200);
      }
    }
    // Every reservation settled: committed for the paid, released for the cancelled.
    await eventually(async () => {
      const held = await shop.orders.db('orders').whereIn('id', ids).where({ reservation: 'held' });
      return held.length === 0;
    });
    const refunded = await shop.orders.db('refunds').pluck('order_id');
    const paid = await shop.orders.db('orders').where({ status: 'paid' }).pluck('id');
    t.same(
      refunded.filter((id: string) => paid.includes(id)),
      [],
      'no paid order was voided',
    );
    const cancelled = await shop.orders.db('orders').where({ status: 'cancelled' }).pluck('id');
    t.same(
      [...refunded].sort(),
      [...cancelled].sort(),
      'every cancelled order had its payment voided',
    );
  },
);

t.test(
  'a result from a foreign MQTT client (mosquitto_pub as service payments) is applied',
  async (t) => {
    const { shop, gateway, lamp } = await startWired(t);
    const placed = await checkout(shop, as.customer(), [{ productId: lamp.id, quantity: 1 }]);
    const id = placed.body.id;
    const { username, password } = testServiceMqttCredentials('payments');
    const url = new URL(shop.orders.config.MQTT_URL!);
    const result = {
      type: 'payment.approved',
      id: randomUUID(),
      requestId: 'req-mosquitto',
      orderId: id,
      paymentId: randomUUID(),
      at: new Date().toISOString(),
    };
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(
        'mosquitto_pub',
        [
          '-h',
          url.hostname,
          '-p',
          url.port,
          '-u',
          username,
          '-P',
          password,
          '-i',
          `payments-${randomUUID()}`,
          '-q',
          '1',
          '-t',
          `payments/results/${id}`,
          '-m',
          JSON.stringify(result),
        ],
        { stdio: 'ignore' },
      );
      child.once('close', resolve);
    });
    t.equal(code, 0);
    await statusHeard(gateway, id, 'paid');
    await eventually(async () => (await reservationOf(shop, id)).status === 'committed');
  },
);
