import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import t from 'tap';
import { startTestBroker } from '@mercado/broker/testing';
import { topics } from '@mercado/common/contract';
import { listen } from '@mercado/common/http';
import { createMetrics } from '@mercado/common/metrics';
import { connectMqtt } from '@mercado/common/mqtt';
import {
  captureLogs,
  startTestRedis,
  testMqttPassword,
  testServiceMqttCredentials,
} from '@mercado/common/testing';
import { buildGateway, loadGatewayConfig } from '@mercado/gateway/testing';
import { everyRow, startPayments } from '@mercado/payments/testing';
import { internalSecret, startUsers } from '@mercado/users/testing';

/**
 * A card paid through the gateway is readable by payments alone. Every part is real: the broker
 * on Redis (its sessions and messages persisted there), users, payments, the gateway. After a
 * payment with a test card and a declined one, the card numbers are searched for in every log of
 * every process, every row of every table of every database, and every key of the broker's
 * Redis — in clear, and in base64 at each of the three alignments a longer text can give them.
 */

const approved = '4242424242424242';
const declined = '4000000000000002';

/** The number as it could appear: in clear, and inside any base64 or base64url text. */
function needles(number: string): string[] {
  const found = [number];
  for (const shift of [0, 1, 2]) {
    const encoded = Buffer.from('x'.repeat(shift) + number).toString('base64');
    // Drop the characters that mix in the neighbouring bytes.
    const start = Math.ceil((shift * 4) / 3) + (shift === 0 ? 0 : 1);
    const inner = encoded.slice(start, encoded.length - 4);
    found.push(inner, inner.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return [...new Set(found)];
}

/** Every key of a Redis database and its value, whatever the type. */
async function everyKey(url: string, db: number): Promise<string[]> {
  const redis = new Redis(url, { db });
  try {
    const entries: string[] = [];
    for (const key of await redis.keys('*')) {
      const type = await redis.type(key);
      const value =
        type === 'string'
          ? await redis.getBuffer(key)
          : type === 'hash'
            ? await redis.hgetallBuffer(key)
            : type === 'list'
              ? await redis.lrangeBuffer(key, 0, -1)
              : type === 'set'
                ? await redis.smembersBuffer(key)
                : type === 'zset'
                  ? await redis.zrangeBuffer(key, 0, -1)
                  : await redis.dumpBuffer(key);
      entries.push(
        `${key} ${type} ${JSON.stringify(value, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('latin1') : v))}`,
      );
    }
    return entries;
  } finally {
    redis.disconnect();
  }
}

t.test('no card number anywhere but in payments’ memory', async (t) => {
  const redis = await startTestRedis(t);
  const broker = await startTestBroker(t, { REDIS_URL: `${redis.url}/1` });
  const users = await startUsers(t, { MQTT_URL: broker.url });
  const payments = await startPayments(t, { MQTT_URL: broker.url }, { work: true });
  const gatewayLogs = captureLogs('gateway');
  const gateway = buildGateway({
    config: loadGatewayConfig({
      INTERNAL_SECRET: internalSecret,
      USERS_URLS: users.url,
      MQTT_URL: broker.url,
      MQTT_PASSWORD: testMqttPassword('gateway'),
      // The answer itself is awaited, however long a loaded machine takes.
      PAYMENT_WAIT_MS: '60000',
      RATE_LIMIT_PER_IP: '0',
    }),
    log: gatewayLogs.log,
    metrics: createMetrics('gateway'),
  });
  const server = await listen(gateway.app);
  t.teardown(async () => {
    await server.close(100);
    await gateway.close();
  });
  await gateway.ready();

  const session = await fetch(`${server.url}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: 'payer@e2e.example',
      password: 'correct horse battery staple',
      name: 'Payer',
    }),
  }).then((response) => response.json() as Promise<{ accessToken: string; user: { id: string } }>);

  const orders = await connectMqtt(broker.url, {
    clientId: `orders-${randomUUID()}`,
    ...testServiceMqttCredentials('orders'),
  });
  t.teardown(() => orders.endAsync(true));
  const pay = async (number: string) => {
    const orderId = randomUUID();
    await orders.publishAsync(
      topics.paymentIntents.build(),
      JSON.stringify({
        type: 'payment.intent_created',
        id: randomUUID(),
        orderId,
        userId: session.user.id,
        amountMinor: 4_990,
        currency: 'EUR',
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      }),
      { qos: 1 },
    );
    // The intent is in payments' database before the shopper pays (orders answers first).
    for (;;) {
      if (await payments.db('intents').where({ order_id: orderId }).first()) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The gateway knows payments' keys once announced (retained): until then it answers 503.
    for (;;) {
      const response = await fetch(`${server.url}/api/orders/${orderId}/payments`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${session.accessToken}`,
          'content-type': 'application/json',
          'idempotency-key': orderId,
        },
        body: JSON.stringify({
          card: { number, expMonth: 12, expYear: 2034, cvc: '123', holder: 'Ana Pérez' },
        }),
      });
      if (response.status !== 503) return { status: response.status, body: await response.json() };
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const paid = await pay(approved);
  t.equal(paid.status, 200);
  t.match(paid.body, { status: 'succeeded', cardLast4: '4242' });
  const refused = await pay(declined);
  t.equal(refused.status, 402);

  const places: Array<[string, string[]]> = [
    ['gateway logs', gatewayLogs.lines.map((line) => JSON.stringify(line))],
    ['users logs', users.logs.lines.map((line) => JSON.stringify(line))],
    ['payments logs', payments.logs.lines.map((line) => JSON.stringify(line))],
    ['broker logs', broker.logs.lines.map((line) => JSON.stringify(line))],
    ['users database', await everyRow(users.db)],
    ['payments database', await everyRow(payments.db)],
    ['broker Redis', await everyKey(redis.url, 1)],
  ];
  t.ok(
    (await everyRow(payments.db)).some((row) => row.includes('4242')),
    'the last four are kept',
  );
  for (const [place, texts] of places) {
    // The broker logs nothing of connections and messages that went well.
    if (place !== 'broker logs')
      t.ok(texts.length > 0, `${place}: searched (${texts.length} entries)`);
    for (const number of [approved, declined]) {
      const hits = needles(number).filter((needle) => texts.some((text) => text.includes(needle)));
      t.same(hits, [], `${place}: no trace of ${number.slice(0, 4)}…`);
    }
  }
  t.ok(needles(approved).length >= 4, 'the needles can be found: see the check below');
  const sample = Buffer.from(`{"card":{"number":"${approved}"}}`).toString('base64');
  t.ok(
    needles(approved).some((needle) => sample.includes(needle)),
    'a base64 card would be caught',
  );
});
