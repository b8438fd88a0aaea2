import { randomUUID } from 'node:crypto';
import t from 'tap';
import { encryptCard, paymentKeysSchema, type PaymentResult } from '@mercado/common/contract';
import {
  card,
  eventually,
  everyRow,
  mosquittoPublish,
  mosquittoSubscribe,
  publishIntent,
  startPayments,
  startTestBroker,
  testCards,
  type PaymentsHarness,
  type TestBroker,
} from './helpers.js';

interface TestContext {
  teardown(fn: () => unknown): void;
}

/** The broker, and payments on it with its consumers, relay and key announcement running. */
async function setUp(t: TestContext) {
  const broker = await startTestBroker(t);
  const payments = await startPayments(t, { MQTT_URL: broker.url }, { work: true });
  await eventually(
    'payments subscribed to its five topics',
    () => logged(payments, 'mqtt consumer subscribed') === 5,
  );
  await payments.work!.keys!.announced();
  return { broker, payments };
}

const logged = (payments: PaymentsHarness, message: string) =>
  payments.logs.lines.filter((line) => line.msg === message).length;

/** The public keys as the gateway hears them: the retained message on payments/keys. */
async function announcedKeys(t: TestContext, broker: TestBroker) {
  const keys = await mosquittoSubscribe(t, broker, 'gateway', 'payments/keys');
  const [line] = await eventually(
    'the retained keys',
    () => keys.messages.length > 0 && keys.messages,
  );
  return paymentKeysSchema.parse(JSON.parse(line!));
}

t.test(
  'payments announces its public keys retained on payments/keys, and again once a broker that lost them is back',
  async (t) => {
    const { broker, payments } = await setUp(t);
    const announced = await announcedKeys(t, broker);
    t.same(announced.keys, payments.deps.keyring.publicKeys);
    t.notOk(JSON.stringify(announced).includes('"d"'), 'no private member');

    // A broker on in-memory persistence restarts without any retained message; payments' client
    // reconnects and announces them again.
    await broker.restart();
    const again = await announcedKeys(t, broker);
    t.same(again.keys, payments.deps.keyring.publicKeys);
  },
);

t.test(
  'a foreign client pays: the intent from orders, a card encrypted for the announced key from the gateway, the result on payments/results/{orderId}; no card number anywhere',
  async (t) => {
    const { broker, payments } = await setUp(t);
    const { owed, results } = await publishIntent(t, broker, payments.db, {
      amountMinor: 12_345,
      resultsAs: 'gateway',
    });

    const keys = await announcedKeys(t, broker);
    const request = {
      type: 'payment.requested',
      requestId: 'idem-key-1',
      orderId: owed.orderId,
      userId: owed.userId,
      card: await encryptCard(card(testCards.approved), keys),
    };
    t.equal(
      (await mosquittoPublish(broker, 'gateway', 'payments/requests', JSON.stringify(request)))
        .code,
      0,
    );
    const [line] = await eventually(
      'the result',
      () => results.messages.length > 0 && results.messages,
    );
    const result = JSON.parse(line!) as PaymentResult;
    const payment = await payments.db('payments').first();
    t.same(result, {
      type: 'payment.approved',
      id: payment.result.id,
      requestId: 'idem-key-1',
      orderId: owed.orderId,
      paymentId: payment.id,
      amountMinor: 12_345,
      currency: 'EUR',
      transactionId: payment.transaction_id,
      cardBrand: 'visa',
      cardLast4: '4242',
      at: payment.result.at,
    });
    await eventually(
      'the outbox row marked sent',
      async () =>
        (await payments.db('outbox').whereNull('sent_at').count('* as n').first())!.n === 0,
    );

    // The number, in clear and in base64 / base64url, is nowhere: payments' log lines, the broker's,
    // every row of every table of payments' database (its outbox included), what went on the wire.
    const number = testCards.approved;
    const forms = [
      number,
      Buffer.from(number).toString('base64'),
      Buffer.from(number).toString('base64url'),
      '4242 4242 4242 4242',
    ];
    const places: Record<string, string> = {
      'payments logs': payments.logs.text(),
      'broker logs': broker.logs.text(),
      'payments database': (await everyRow(payments.db)).join('\n'),
      'results on the wire': results.messages.join('\n'),
    };
    t.ok(places['payments database']!.includes(owed.orderId), 'the search reads the rows');
    for (const [place, text] of Object.entries(places)) {
      for (const form of forms) t.notOk(text.includes(form), `${place}: not ${form}`);
      t.notOk(text.includes(request.card), `${place}: not even the ciphertext`);
    }
  },
);

t.test(
  'the same request delivered 3 times charges once; each delivery answers with the first result or nothing',
  async (t) => {
    const { broker, payments } = await setUp(t);
    const { owed, results } = await publishIntent(t, broker, payments.db, { resultsAs: 'orders' });
    const request = JSON.stringify(
      await payments.request(owed.orderId, owed.userId, testCards.approved, 'same-key'),
    );
    for (let delivery = 0; delivery < 3; delivery++) {
      t.equal((await mosquittoPublish(broker, 'gateway', 'payments/requests', request)).code, 0);
    }
    const handled = () =>
      logged(payments, 'payment processed') +
      logged(payments, 'payment request repeated while in progress') +
      logged(payments, 'payment request repeated: first result published again');
    await eventually('three deliveries handled', () => handled() === 3);
    const rows = await payments.db('payments').select('id', 'status', 'transaction_id', 'result');
    t.equal(rows.length, 1, 'one payment');
    t.equal(rows[0].status, 'succeeded');
    const queued = await payments.db('outbox').count('* as n').first();
    await eventually('every result relayed', () => results.messages.length === Number(queued!.n));
    const received = results.messages.map((message) => JSON.parse(message) as PaymentResult);
    t.ok(received.length >= 1 && received.length <= 3);
    t.same(
      new Set(received.map((result) => result.id)),
      new Set([rows[0].result.id]),
      'one result, perhaps more than once',
    );
    t.equal(
      await payments
        .db('payment_events')
        .where({ type: 'payment_approved' })
        .count('* as n')
        .first()
        .then((row) => Number(row!.n)),
      1,
    );
  },
);

t.test(
  'malformed, oversized and wrong-type payloads on every topic payments consumes are dropped and change nothing',
  async (t) => {
    const { broker, payments } = await setUp(t);
    const { owed } = await publishIntent(t, broker, payments.db);
    const before = await everyRow(payments.db);
    const request = await payments.request(owed.orderId, owed.userId);
    const refund = {
      type: 'refund.requested',
      refundId: 'r-1',
      orderId: owed.orderId,
      paymentId: randomUUID(),
      amountMinor: 100,
      reason: 'order_cancelled',
    };
    // Closing the order would change the intent: each of these must be dropped before that.
    const ask = {
      type: 'payment.status_requested',
      id: randomUUID(),
      orderIds: [owed.orderId],
      expire: true,
      at: new Date().toISOString(),
    };
    const huge = JSON.stringify({ ...owed, pad: 'x'.repeat(70 * 1024) });
    const bad: Array<[string, 'orders' | 'gateway', string]> = [
      ['payments/intents', 'orders', 'not json'],
      ['payments/intents', 'orders', '\u00ff\u00fe'],
      ['payments/intents', 'orders', '{}'],
      ['payments/intents', 'orders', huge],
      ['payments/intents', 'orders', JSON.stringify({ ...owed, amountMinor: '2599' })],
      ['payments/intents', 'orders', JSON.stringify({ ...owed, amountMinor: 25.99 })],
      ['payments/intents', 'orders', JSON.stringify({ ...owed, amountMinor: -1 })],
      ['payments/intents', 'orders', JSON.stringify({ ...owed, currency: 'eur' })],
      ['payments/intents', 'orders', JSON.stringify({ ...owed, orderId: 'order-1' })],
      [
        'payments/intents',
        'orders',
        JSON.stringify({
          type: 'payment.intent_cancelled',
          id: randomUUID(),
          orderId: owed.orderId,
          reason: 'bored',
          at: new Date().toISOString(),
        }),
      ],
      ['payments/requests', 'gateway', 'not json'],
      ['payments/requests', 'gateway', '[]'],
      ['payments/requests', 'gateway', JSON.stringify({ ...request, pad: 'x'.repeat(70 * 1024) })],
      // An amount in the request is no part of the contract: the intent rules.
      ['payments/requests', 'gateway', JSON.stringify({ ...request, amountMinor: 1 })],
      // A card in clear is refused before anyone reads it.
      ['payments/requests', 'gateway', JSON.stringify({ ...request, card: card() })],
      ['payments/requests', 'gateway', JSON.stringify({ ...request, card: 'not-a-jwe' })],
      ['payments/requests', 'gateway', JSON.stringify({ ...request, requestId: '' })],
      ['payments/requests', 'gateway', JSON.stringify({ ...request, userId: 42 })],
      ['payments/refunds', 'orders', 'not json'],
      ['payments/refunds', 'orders', JSON.stringify({ ...refund, amountMinor: 0 })],
      ['payments/refunds', 'orders', JSON.stringify({ ...refund, reason: 'Not A Code' })],
      ['payments/refunds', 'orders', JSON.stringify({ ...refund, paymentId: 'p-1' })],
      ['payments/refunds', 'orders', JSON.stringify({ ...refund, refundId: undefined })],
      ['payments/refunds', 'orders', JSON.stringify({ ...refund, pad: 'x'.repeat(70 * 1024) })],
      ['payments/status-requests', 'orders', 'not json'],
      ['payments/status-requests', 'orders', JSON.stringify({ ...ask, orderIds: [] })],
      ['payments/status-requests', 'orders', JSON.stringify({ ...ask, orderIds: ['o-1'] })],
      [
        'payments/status-requests',
        'orders',
        JSON.stringify({ ...ask, orderIds: Array.from({ length: 101 }, () => randomUUID()) }),
      ],
      ['payments/status-requests', 'orders', JSON.stringify({ ...ask, expire: 'yes' })],
      [
        'payments/status-requests',
        'orders',
        JSON.stringify({ ...ask, pad: 'x'.repeat(70 * 1024) }),
      ],
      // On each topic: an empty object, and another topic's message.
      ['payments/intents', 'orders', JSON.stringify(refund)],
      ['payments/requests', 'gateway', '{}'],
      ['payments/requests', 'gateway', JSON.stringify(owed)],
      ['payments/refunds', 'orders', '{}'],
      ['payments/refunds', 'orders', JSON.stringify(request)],
      ['payments/status-requests', 'orders', '{}'],
      ['payments/status-requests', 'orders', JSON.stringify(refund)],
    ];
    for (const [topic, service, payload] of bad) {
      const dropped = logged(payments, 'mqtt message refused by the contract; dropped');
      await mosquittoPublish(broker, service, topic, payload);
      await eventually(
        `${topic}: ${payload.slice(0, 60)} dropped`,
        () => logged(payments, 'mqtt message refused by the contract; dropped') === dropped + 1,
      );
    }
    const reasons = payments.logs.lines
      .filter((line) => line.msg === 'mqtt message refused by the contract; dropped')
      .map((line) => String(line.reason).split(':')[0]);
    t.same(new Set(reasons), new Set(['not_json', 'invalid_payload', 'too_large']));
    t.same(await everyRow(payments.db), before, 'nothing stored, nothing changed');
    t.notOk(payments.logs.text().includes(testCards.approved), 'the clear card was not logged');
  },
);

t.test(
  'over the broker: an order cancelled after its payment is refunded at once; a refund from orders is applied once however often it comes',
  async (t) => {
    const { broker, payments } = await setUp(t);
    const parsed = (messages: string[]) =>
      messages.map((message) => JSON.parse(message) as PaymentResult);
    const pay = async (owed: { orderId: string; userId: string }) => {
      const request = await payments.request(owed.orderId, owed.userId);
      await mosquittoPublish(broker, 'gateway', 'payments/requests', JSON.stringify(request));
    };

    const cancelled = await publishIntent(t, broker, payments.db, { resultsAs: 'orders' });
    await pay(cancelled.owed);
    const [approved] = parsed(
      await eventually(
        'approved',
        () => cancelled.results.messages.length === 1 && cancelled.results.messages,
      ),
    );
    t.equal(approved!.type, 'payment.approved');
    const cancellation = {
      type: 'payment.intent_cancelled',
      id: randomUUID(),
      orderId: cancelled.owed.orderId,
      reason: 'cancelled',
      at: new Date().toISOString(),
    };
    await mosquittoPublish(broker, 'orders', 'payments/intents', JSON.stringify(cancellation));
    const [, refunded] = parsed(
      await eventually(
        'refunded',
        () => cancelled.results.messages.length === 2 && cancelled.results.messages,
      ),
    );
    t.match(refunded, {
      type: 'payment.refunded',
      orderId: cancelled.owed.orderId,
      paymentId: approved!.paymentId,
      amountMinor: cancelled.owed.amountMinor,
      reason: 'order_cancelled',
    });

    const partly = await publishIntent(t, broker, payments.db, {
      resultsAs: 'orders',
      amountMinor: 1000,
    });
    await pay(partly.owed);
    const [paid] = parsed(
      await eventually(
        'approved',
        () => partly.results.messages.length === 1 && partly.results.messages,
      ),
    );
    const refund = JSON.stringify({
      type: 'refund.requested',
      refundId: 'refund-77',
      orderId: partly.owed.orderId,
      paymentId: paid!.paymentId,
      amountMinor: 400,
      reason: 'requested_by_customer',
    });
    await mosquittoPublish(broker, 'orders', 'payments/refunds', refund);
    await eventually('the refund', () => partly.results.messages.length === 2);
    await eventually(
      'relayed',
      async () => (await payments.db('outbox').whereNull('sent_at')).length === 0,
    );
    await mosquittoPublish(broker, 'orders', 'payments/refunds', refund);
    const [, first, again] = parsed(
      await eventually(
        'the refund again',
        () => partly.results.messages.length === 3 && partly.results.messages,
      ),
    );
    t.match(first, { type: 'payment.refunded', requestId: 'refund-77', amountMinor: 400 });
    t.same(again, first, 'the same event');
    t.match(await payments.db('payments').where({ id: paid!.paymentId }).first(), {
      status: 'succeeded',
      refunded_minor: 400,
    });
    t.equal((await payments.db('refunds').where({ payment_id: paid!.paymentId })).length, 1);
  },
);
