import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { testMqttPassword } from '@mercado/common/testing';
import {
  answerStatus,
  as,
  checkout,
  internalSecret,
  listenAs,
  pastExpiry,
  publishResult,
  startBroker,
  startShop,
  ordersBuiltMain,
} from './shop.js';

const builtMain = fileURLToPath(ordersBuiltMain);

t.test(
  'the built service, as main.ts wires it: on start asks payments about unpaid orders and expires the overdue one payments closed, consumes results, relays events',
  async (t) => {
    const mqttUrl = await startBroker(t);
    const payments = await listenAs(t, mqttUrl, 'payments', [
      'payments/intents',
      'payments/status-requests',
    ]);
    const gateway = await listenAs(t, mqttUrl, 'gateway', ['orders/+/+/status']);
    // Orders here without a broker: only the built process relays and consumes.
    const shop = await startShop(t);
    const lamp = await shop.sell({ stock: { north: 5 } });
    const overdue = (await checkout(shop, as.customer(), [{ productId: lamp.id, quantity: 1 }]))
      .body.id;
    const payable = (await checkout(shop, as.customer(), [{ productId: lamp.id, quantity: 2 }]))
      .body.id;
    const { db } = shop.orders;
    await pastExpiry(db, [overdue]);

    const child = spawn(process.execPath, [builtMain], {
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: '0',
        DATABASE_URL: shop.orders.config.DATABASE_URL,
        INTERNAL_SECRET: internalSecret,
        PRODUCTS_URLS: shop.products.url,
        INVENTORY_URLS: shop.inventory.url,
        MQTT_URL: mqttUrl,
        MQTT_PASSWORD: testMqttPassword('orders'),
        // Only the sweep at start: nothing else asks payments about the orders.
        SWEEP_INTERVAL_MS: '3600000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    // Both consumers: payment results and payments' status answers.
    let output = '';
    const subscribed = new Promise<void>((resolve) => {
      child.stdout!.on('data', function read(chunk: Buffer) {
        output += chunk.toString();
        const filters = ['payments/results/+', 'payments/status/+'];
        if (filters.every((filter) => output.includes(`"filter":"$share/orders/${filter}"`))) {
          resolve();
        }
      });
    });

    // The sweep at start: the overdue order to close, the payable one only asked about.
    const closing = await payments.next(
      (message) =>
        message.topic === 'payments/status-requests' && message.payload.orderIds.includes(overdue),
    );
    t.equal(closing.payload.expire, true);
    const asking = await payments.next(
      (message) =>
        message.topic === 'payments/status-requests' && message.payload.orderIds.includes(payable),
    );
    t.equal(asking.payload.expire, false);
    await subscribed;
    await answerStatus(payments, overdue, 'closed', { requestId: closing.payload.id });
    const expired = await gateway.next(
      (message) => message.payload.orderId === overdue && message.payload.status === 'expired',
    );
    t.equal(expired.topic.split('/')[2], overdue, 'expired on payments’ answer, and relayed');
    const intents = await payments.next((message) => message.payload.orderId === payable);
    t.equal(
      intents.payload.type,
      'payment.intent_created',
      'events written before it started go out too',
    );

    await publishResult(payments, {
      type: 'payment.approved',
      orderId: payable,
      paymentId: randomUUID(),
    });
    await gateway.next(
      (message) => message.payload.orderId === payable && message.payload.status === 'paid',
    );
    child.kill('SIGTERM');
    t.equal(await exited, 0, 'it stops cleanly on SIGTERM');
  },
);
