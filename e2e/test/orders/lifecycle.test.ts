import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { Identity } from '@mercado/common/identity';
import { orderTransitions } from './shop.js';
import {
  answerStatus,
  as,
  checkout,
  eventually,
  listenAs,
  pastExpiry,
  publishResult,
  startBroker,
  startShop,
  type Listener,
  type Shop,
} from './shop.js';

const orders: Identity = { roles: [], service: 'orders' };

async function reservationOf(shop: Shop, orderId: string) {
  const answer = await shop.callInventory('GET', `/internal/reservations/${orderId}`, {
    identity: orders,
  });
  return answer.body;
}

/** A broker, a shop on it, and payments' and the gateway's ears. */
async function startWired(
  t: { teardown(fn: () => unknown): void },
  env: Record<string, string> = {},
) {
  const mqttUrl = await startBroker(t);
  const payments = await listenAs(t, mqttUrl, 'payments', [
    'payments/intents',
    'payments/refunds',
    'payments/status-requests',
  ]);
  const gateway = await listenAs(t, mqttUrl, 'gateway', ['orders/+/+/status']);
  const shop = await startShop(t, { MQTT_URL: mqttUrl, ...env });
  return { shop, payments, gateway };
}

function statusHeard(gateway: Listener, orderId: string, status: string) {
  return gateway.next(
    (message) => message.payload.orderId === orderId && message.payload.status === status,
  );
}

t.test(
  'the database refuses every move its transition table does not list, from any SQL',
  async (t) => {
    const shop = await startShop(t);
    const { db } = shop.orders;
    const lamp = await shop.sell({ stock: { north: 5 } });
    const placed = await checkout(shop, as.customer(), [{ productId: lamp.id, quantity: 1 }]);
    const id = placed.body.id;

    const table = await db('order_transitions').select('from_status', 'to_status');
    const listed = Object.entries(orderTransitions).flatMap(([from, tos]) =>
      tos.map((to) => `${from} → ${to}`),
    );
    t.same(
      table.map((row) => `${row.from_status} → ${row.to_status}`).sort(),
      listed.sort(),
      'the code and the database agree on the state machine',
    );

    const refused = async (sql: string, bindings: string[] = []) => {
      const error = await db
        .transaction(async (trx) => {
          await trx.raw(
            `select set_config('mercado.order_cause', 'sql', true), set_config('mercado.order_actor', 'operator', true)`,
          );
          await trx.raw(sql, bindings);
        })
        .then(
          () => undefined,
          (caught: { code?: string }) => caught,
        );
      return error?.code;
    };
    t.equal(await refused(`update orders set status = 'shipped' where id = ?`, [id]), '23514');
    t.equal(await refused(`update orders set status = 'delivered' where id = ?`, [id]), '23514');
    t.equal(
      await refused(`update orders set status = 'paid' where id = ?`, [id]),
      '23514',
      'paid only with the payment that paid it',
    );
    t.equal(
      await refused(
        `insert into orders (id, user_id, status, region, currency, total_minor, item_count, shipping_address, deadline, expires_at)
       values (gen_random_uuid(), gen_random_uuid(), 'delivered', 'north', 'EUR', 1, 1, '{}', now(), now())`,
      ),
      '23514',
      'an order starts awaiting payment',
    );
    const noCause = await db.raw(`update orders set status = 'cancelled' where id = ?`, [id]).then(
      () => undefined,
      (caught: { code?: string }) => caught.code,
    );
    t.equal(
      noCause,
      '23514',
      'a move without cause and actor is refused: none escapes the history',
    );
    t.equal(
      await refused(`update order_history set cause = 'x'`),
      '23514',
      'history is append-only',
    );
    t.equal(await refused(`delete from order_history`), '23514');

    t.equal(await refused(`update orders set status = 'cancelled' where id = ?`, [id]), undefined);
    t.equal(
      await refused(`update orders set status = 'awaiting_payment' where id = ?`, [id]),
      '23514',
      'cancelled is final',
    );
    const history = await db('order_history').where({ order_id: id }).orderBy('id');
    t.same(
      history.map((row) => [row.from_status, row.to_status, row.cause, row.actor]),
      [
        [null, 'awaiting_payment', 'checkout', `user:${placed.body.userId}`],
        ['awaiting_payment', 'cancelled', 'sql', 'operator'],
      ],
    );
  },
);

t.test('the shopper cancels an unpaid order: stock released, payments told', async (t) => {
  const { shop, payments, gateway } = await startWired(t);
  const lamp = await shop.sell({ stock: { north: 5 } });
  const user = as.customer();
  const placed = await checkout(shop, user, [{ productId: lamp.id, quantity: 2 }]);
  const id = placed.body.id;

  const stranger = await shop.orders.call('POST', `/api/orders/${id}/cancel`, {
    identity: as.customer(),
  });
  t.match(stranger, { status: 404, body: { code: 'order_not_found' } });

  const cancelled = await shop.orders.call('POST', `/api/orders/${id}/cancel`, { identity: user });
  t.equal(cancelled.status, 200);
  t.match(cancelled.body, {
    status: 'cancelled',
    history: [
      { from: null, to: 'awaiting_payment' },
      {
        from: 'awaiting_payment',
        to: 'cancelled',
        cause: 'cancelled by the shopper',
        actor: `user:${user.userId}`,
      },
    ],
  });
  t.match(await reservationOf(shop, id), { status: 'released' });
  const stock = await shop.inventory.db('stock').where({ product_id: lamp.id }).first();
  t.same([stock.reserved, stock.available], [0, 5], 'the stock is available again');
  const told = await payments.next(
    (message) =>
      message.payload.type === 'payment.intent_cancelled' && message.payload.orderId === id,
  );
  t.same(told.payload, {
    type: 'payment.intent_cancelled',
    id: told.payload.id,
    orderId: id,
    reason: 'cancelled',
    at: told.payload.at,
  });
  await statusHeard(gateway, id, 'cancelled');
  const again = await shop.orders.call('POST', `/api/orders/${id}/cancel`, { identity: user });
  t.match(again, { status: 409, body: { code: 'order_state_conflict' } });
  t.equal((await shop.orders.db('orders').where({ id }).first()).reservation, 'released');
});

t.test('ship and deliver: by the seller of every item or an admin, once paid', async (t) => {
  const { shop, payments, gateway } = await startWired(t);
  const sellerId = randomUUID();
  const lamp = await shop.sell({ sellerId, stock: { north: 5 } });
  const rug = await shop.sell({ sellerId, stock: { north: 5 } });
  const other = await shop.sell({ stock: { north: 5 } });
  const user = as.customer();
  const placed = await checkout(shop, user, [
    { productId: lamp.id, quantity: 1 },
    { productId: rug.id, quantity: 1 },
  ]);
  const id = placed.body.id;
  const seller = as.seller(sellerId);
  const post = (path: string, identity: ReturnType<typeof as.seller>) =>
    shop.orders.call('POST', `/api/orders/${id}/${path}`, { identity });

  t.match(
    await post('ship', seller),
    { status: 409, body: { code: 'order_state_conflict' } },
    'unpaid',
  );
  await publishResult(payments, { type: 'payment.approved', orderId: id, paymentId: randomUUID() });
  await statusHeard(gateway, id, 'paid');

  t.match(await post('ship', as.customer(user.userId)), {
    status: 403,
    body: { code: 'forbidden' },
  });
  t.match(await post('ship', as.seller()), { status: 404, body: { code: 'order_not_found' } });
  t.match(await post('deliver', seller), { status: 409, body: { code: 'order_state_conflict' } });
  const shipped = await post('ship', seller);
  t.match(shipped, {
    status: 200,
    body: {
      status: 'shipped',
      history: [{}, {}, { from: 'paid', to: 'shipped', actor: `user:${sellerId}` }],
    },
  });
  await statusHeard(gateway, id, 'shipped');
  const delivered = await post('deliver', as.admin());
  t.match(delivered, { status: 200, body: { status: 'delivered' } });
  await statusHeard(gateway, id, 'delivered');

  // An order with another seller's item: only an admin ships it.
  const mixed = await checkout(shop, as.customer(), [
    { productId: lamp.id, quantity: 1 },
    { productId: other.id, quantity: 1 },
  ]);
  await publishResult(payments, {
    type: 'payment.approved',
    orderId: mixed.body.id,
    paymentId: randomUUID(),
  });
  await statusHeard(gateway, mixed.body.id, 'paid');
  const refused = await shop.orders.call('POST', `/api/orders/${mixed.body.id}/ship`, {
    identity: seller,
  });
  t.match(refused, { status: 403, body: { code: 'not_order_seller' } });
  const byAdmin = await shop.orders.call('POST', `/api/orders/${mixed.body.id}/ship`, {
    identity: as.admin(),
  });
  t.match(byAdmin, { status: 200, body: { status: 'shipped' } });
});

t.test(
  'the sweeper has payments close unpaid orders past their expiry, once, on every replica at once; they expire on its answer',
  async (t) => {
    const { shop, payments, gateway } = await startWired(t, {
      EXPIRY_GRACE_SECONDS: '60',
      SWEEP_BATCH_SIZE: '2',
    });
    const lamp = await shop.sell({ stock: { north: 30 } });
    const due: string[] = [];
    for (let i = 0; i < 12; i++) {
      due.push(
        (await checkout(shop, as.customer(), [{ productId: lamp.id, quantity: 2 }])).body.id,
      );
    }
    const inGrace = await checkout(shop, as.customer(), [{ productId: lamp.id, quantity: 1 }]);
    const { db } = shop.orders;
    await pastExpiry(db, due);
    // Past its deadline but not its grace: a result may still be on its way.
    await db('orders')
      .where({ id: inGrace.body.id })
      .update({
        deadline: db.raw(`now() - interval '1 second'`),
        expires_at: db.raw(`now() + interval '59 seconds'`),
      });

    const sweeps = await Promise.all(Array.from({ length: 4 }, () => shop.orders.sweep()));
    t.equal(
      sweeps.reduce((sum, sweep) => sum + sweep.expiring, 0),
      12,
      'each asked about once among four sweepers',
    );
    t.same(
      sweeps.map((sweep) => sweep.checked),
      [0, 0, 0, 0],
      'orders asked about lately (or just placed) are not asked about again',
    );
    const requests = await db('outbox')
      .where({ topic: 'payments/status-requests' })
      .select('payload');
    const asked = requests.flatMap((row: { payload: { orderIds: string[]; expire: boolean } }) => {
      t.equal(row.payload.expire, true, 'asked to close them');
      t.ok(row.payload.orderIds.length <= 2, 'one request per batch');
      return row.payload.orderIds;
    });
    t.same(
      asked.sort(),
      [...due].sort(),
      'each due order in one request, the one in grace in none',
    );
    t.same(
      await db('orders').whereIn('id', due).whereNot({ status: 'awaiting_payment' }).pluck('id'),
      [],
      'nothing expires before payments answers',
    );
    t.same((await shop.orders.sweep()).expiring, 0, 'an order asked about is not asked again');

    // Payments closes all but one, whose payment is still processing.
    const [processing, ...closed] = due;
    const heard = await Promise.all(
      due.map((id) =>
        payments.next(
          (message) =>
            message.topic === 'payments/status-requests' && message.payload.orderIds.includes(id),
        ),
      ),
    );
    for (const [index, id] of due.entries()) {
      const requestId = heard[index]!.payload.id;
      await answerStatus(payments, id, id === processing ? 'processing' : 'closed', { requestId });
    }
    for (const id of closed) await statusHeard(gateway, id, 'expired');
    const expired = await shop.orders.call('GET', `/api/orders/${closed[0]}`, {
      identity: as.admin(),
    });
    t.match(expired.body, {
      status: 'expired',
      history: [
        {},
        {
          from: 'awaiting_payment',
          to: 'expired',
          cause: 'not paid by its deadline',
          actor: 'system:sweeper',
        },
      ],
    });
    t.equal(expired.body.history.length, 2);
    // The same answer again changes nothing.
    const again = await answerStatus(payments, closed[0]!, 'closed');
    await eventually(() =>
      shop.orders.logs.lines.some(
        (line) => line.eventId === again.id && line.msg === 'payment status applied',
      ),
    );
    const still = await db('orders').whereIn('id', [processing, inGrace.body.id]).pluck('status');
    t.same(still, ['awaiting_payment', 'awaiting_payment'], 'processing and in grace: unpaid');
    for (const id of closed) {
      await eventually(async () => (await reservationOf(shop, id)).status === 'released');
    }
    await eventually(async () => {
      const stock = await shop.inventory.db('stock').where({ product_id: lamp.id }).first();
      return stock.reserved === 3 && stock.available === 27;
    });
    t.equal(
      (await db('order_history').where({ order_id: closed[0], to_status: 'expired' })).length,
      1,
      'expired once, however often payments said so',
    );

    // A replica's first sweep asks about every unpaid order, however recently it was asked.
    const first = await shop.orders.sweep({ checkAll: true });
    t.same(
      [first.expiring, first.checked],
      [1, 1],
      'the due one still processing is asked to close again, the one not yet due is asked about',
    );
    const check = await payments.next(
      (message) =>
        message.topic === 'payments/status-requests' &&
        message.payload.orderIds.includes(inGrace.body.id),
    );
    t.equal(check.payload.expire, false, 'only asked: it is not due');
  },
);

t.test('a reservation inventory was not told about is settled by the next sweep', async (t) => {
  const shop = await startShop(t);
  const lamp = await shop.sell({ stock: { north: 5 } });
  const placed = await checkout(shop, as.customer(), [{ productId: lamp.id, quantity: 2 }]);
  const { db } = shop.orders;
  // Cancelled as if the release call had failed once the move committed.
  await db.transaction(async (trx) => {
    await trx.raw(
      `select set_config('mercado.order_cause', 'test', true), set_config('mercado.order_actor', 'test', true)`,
    );
    await trx('orders').where({ id: placed.body.id }).update({ status: 'cancelled' });
  });
  t.match(await reservationOf(shop, placed.body.id), { status: 'active' });
  const sweep = await shop.orders.sweep();
  t.equal(sweep.settled, 1);
  t.match(await reservationOf(shop, placed.body.id), { status: 'released' });
  t.equal((await db('orders').where({ id: placed.body.id }).first()).reservation, 'released');
  t.equal((await shop.orders.sweep()).settled, 0, 'settled once');
});
