import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { Identity } from '@mercado/common/identity';
import { connectMqtt } from '@mercado/common/mqtt';
import { testServiceMqttCredentials } from '@mercado/common/testing';
import { startPayments } from '@mercado/payments/testing';
import {
  as,
  checkout,
  eventually,
  listenAs,
  pastExpiry,
  startBroker,
  startOrders,
  startShop,
  type Shop,
} from './shop.js';

/**
 * Payment results published while no orders replica listened (every replica down, or cut off from
 * the broker): the broker keeps nothing for a share group without members, so only orders' own
 * reconciliation can bring them in. Every part is real: the broker, products, inventory, orders
 * and payments (its consumers, processor, database and outbox); the test speaks only as orders'
 * relay would (the intent) and as the gateway would (a payment request, a card encrypted for
 * payments' key), because no orders replica is connected while the payments happen.
 */

const ordersService: Identity = { roles: [], service: 'orders' };

async function reservationOf(shop: Shop, orderId: string) {
  const answer = await shop.callInventory('GET', `/internal/reservations/${orderId}`, {
    identity: ordersService,
  });
  return answer.body as { status: string };
}

t.test(
  'approved while no orders replica listened: paid when orders is back; past its expiry too, never expired; one nobody paid expires, and payments refuses it after; an intent payments never got is sent again',
  async (t) => {
    const mqttUrl = await startBroker(t);
    const payments = await startPayments(t, { MQTT_URL: mqttUrl }, { work: true });
    await eventually(
      () =>
        payments.logs.lines.filter((line) => line.msg === 'mqtt consumer subscribed').length ===
        payments.work!.background.filter((task) => task.name.startsWith('consumer ')).length,
    );
    // Orders without a broker: down, as far as MQTT goes. Its outbox waits.
    const shop = await startShop(t);
    const lamp = await shop.sell({ priceMinor: 2_000, stock: { north: 10 } });
    const ana = as.customer();
    const place = async (quantity: number) =>
      (await checkout(shop, ana, [{ productId: lamp.id, quantity }])).body.id as string;
    const inTime = await place(1);
    const overdue = await place(2);
    const unpaid = await place(3);
    const lost = await place(1);

    // The intents reach payments as orders' relay sends them.
    const relay = await connectMqtt(mqttUrl, {
      clientId: `orders-${randomUUID()}`,
      ...testServiceMqttCredentials('orders'),
    });
    t.teardown(() => relay.endAsync(true));
    const intents = await shop.orders.db('outbox').where({ topic: 'payments/intents' });
    for (const row of intents) {
      // The last one was relayed while no payments replica listened: lost.
      if (row.payload.orderId === lost) continue;
      await relay.publishAsync(row.topic, JSON.stringify(row.payload), { qos: 1 });
    }
    await shop.orders.db('outbox').update({ sent_at: shop.orders.db.fn.now() });
    await eventually(
      async () => Number((await payments.db('intents').count({ n: '*' }).first())?.n) === 3,
    );

    // The gateway pays two of them; it hears the results, no orders replica does.
    const gateway = await listenAs(t, mqttUrl, 'gateway', ['payments/results/+']);
    for (const orderId of [inTime, overdue]) {
      const request = await payments.request(orderId, ana.userId);
      await gateway.client.publishAsync('payments/requests', JSON.stringify(request), { qos: 1 });
      await gateway.next(
        (message) =>
          message.payload.orderId === orderId && message.payload.type === 'payment.approved',
      );
    }
    const { db } = shop.orders;
    t.same(
      await db('orders').whereIn('id', [inTime, overdue]).pluck('status'),
      ['awaiting_payment', 'awaiting_payment'],
      'the results reached no orders replica',
    );
    // Orders stays down past two orders' expiry.
    await pastExpiry(db, [overdue, unpaid]);

    // A replica comes back: connected, it sweeps at once as main starts it.
    const back = await startOrders(
      t,
      {
        INTERNAL_SECRET: shop.orders.config.INTERNAL_SECRET,
        PRODUCTS_URLS: shop.products.url,
        INVENTORY_URLS: shop.inventory.url,
        MQTT_URL: mqttUrl,
      },
      { databaseUrl: shop.orders.config.DATABASE_URL },
    );
    const status = await listenAs(t, mqttUrl, 'gateway', ['orders/+/+/status']);
    await eventually(
      () => back.logs.lines.filter((line) => line.msg === 'mqtt consumer subscribed').length === 2,
    );
    const swept = await back.sweep({ checkAll: true });
    t.same([swept.expiring, swept.checked], [2, 2], 'two due asked to close, two asked about');

    const heard = (orderId: string, wanted: string) =>
      status.next(
        (message) => message.payload.orderId === orderId && message.payload.status === wanted,
      );
    await Promise.all([heard(inTime, 'paid'), heard(overdue, 'paid'), heard(unpaid, 'expired')]);
    const rows = await db('orders').whereIn('id', [inTime, overdue, unpaid]).select('id', 'status');
    t.same(
      Object.fromEntries(rows.map((row: { id: string; status: string }) => [row.id, row.status])),
      { [inTime]: 'paid', [overdue]: 'paid', [unpaid]: 'expired' },
    );
    t.notOk(
      status.heard.some(
        (message) => message.payload.orderId === overdue && message.payload.status === 'expired',
      ),
      'the one paid past its expiry never expired',
    );
    t.same(
      (await db('order_history').where({ order_id: overdue }).orderBy('id')).map(
        (row: { to_status: string }) => row.to_status,
      ),
      ['awaiting_payment', 'paid'],
    );
    for (const [orderId, wanted] of [
      [inTime, 'committed'],
      [overdue, 'committed'],
      [unpaid, 'released'],
    ] as const) {
      await eventually(async () => (await reservationOf(shop, orderId)).status === wanted);
    }
    const stock = await shop.inventory.db('stock').where({ product_id: lamp.id }).first();
    t.same(
      [stock.on_hand, stock.reserved, stock.available],
      [7, 1, 6],
      'sold 3, 3 back, 1 held for the order whose intent was lost',
    );

    // Each payment charged once; the unpaid order's intent is closed, and paying it is refused.
    t.same(
      (await payments.db('payments').orderBy('created_at').select('order_id', 'status')).map(
        (row: { order_id: string; status: string }) => [row.order_id, row.status],
      ),
      [
        [inTime, 'succeeded'],
        [overdue, 'succeeded'],
      ],
    );
    t.match(await payments.db('intents').where({ order_id: unpaid }).first(), {
      cancelled_reason: 'expired',
    });
    const late = await payments.request(unpaid, ana.userId);
    await gateway.client.publishAsync('payments/requests', JSON.stringify(late), { qos: 1 });
    const refused = await gateway.next(
      (message) =>
        message.payload.orderId === unpaid && message.payload.requestId === late.requestId,
    );
    t.match(refused.payload, { type: 'payment.refused', reason: 'order_not_payable' });
    t.same(await payments.db('payments').where({ order_id: unpaid }).pluck('id'), []);

    // The lost intent was sent again on payments' `unknown`: the order can be paid.
    await eventually(async () => payments.db('intents').where({ order_id: lost }).first());
    const paying = await payments.request(lost, ana.userId);
    await gateway.client.publishAsync('payments/requests', JSON.stringify(paying), { qos: 1 });
    await heard(lost, 'paid');

    // The results came again and were applied once each.
    const attempts = await db('payment_attempts').whereIn('order_id', [inTime, overdue]);
    t.equal(attempts.length, 2, 'one attempt recorded per payment');
  },
);
