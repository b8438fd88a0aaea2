import { randomUUID } from 'node:crypto';
import t from 'tap';
import type {
  PaymentIntentCancelled,
  PaymentIntentCreated,
  PaymentStatusRequested,
} from '@mercado/common/contract';
import {
  answerStatusRequest,
  createSandboxProcessor,
  recoverAbandonedPayments,
  receiveIntent,
  receiveIntentCancellation,
  refundPayment,
  requestPayment,
  type CardProcessor,
} from '../src/app.js';
import { cardFingerprint } from '../src/domain/cards.js';
import {
  eventually,
  fingerprintKey,
  intent,
  queuedResults,
  startPayments,
  testCards,
  type PaymentsHarness,
} from './helpers.js';

/** The sandbox, counting the charges that reach it and able to hold the slow card. */
function countingProcessor() {
  const holds: Array<() => void> = [];
  const sandbox = createSandboxProcessor({
    now: () => new Date(),
    minAmountMinor: 50,
    maxAmountMinor: 99_999_999,
    slowCardDelayMs: 1,
    wait: () => new Promise<void>((resolve) => holds.push(resolve)),
  });
  const counts = { charges: 0, refunds: 0 };
  const processor: CardProcessor = {
    charge(request) {
      counts.charges++;
      return sandbox.charge(request);
    },
    retrieve: (paymentId) => sandbox.retrieve(paymentId),
    refund(request) {
      counts.refunds++;
      return sandbox.refund(request);
    },
  };
  return { processor, counts, holds };
}

async function start(t: { teardown(fn: () => unknown): void }, now?: () => Date) {
  const counting = countingProcessor();
  const payments = await startPayments(
    t,
    {},
    { processor: counting.processor, ...(now ? { now } : {}) },
  );
  return { payments, ...counting };
}

/** Starts paying with the slow card and returns once the processor holds it (still processing). */
async function payWithHeldSlowCard(
  payments: PaymentsHarness,
  owed: PaymentIntentCreated,
  holds: Array<() => void>,
) {
  const slow = requestPayment(
    payments.deps,
    await payments.request(owed.orderId, owed.userId, testCards.slow),
  );
  await eventually('the slow card held by the processor', () => holds.length > 0);
  // Wrapped: an async function returning the promise itself would wait for it.
  return { slow };
}

/** Marks every queued message sent, as the relay does once the broker acknowledged it. */
const relayed = (payments: PaymentsHarness) =>
  payments.db('outbox').whereNull('sent_at').update({ sent_at: payments.db.fn.now() });

const events = (payments: PaymentsHarness, orderId: string) =>
  payments.db('payment_events').where({ order_id: orderId }).orderBy('id').pluck('type');

const cancellation = (
  orderId: string,
  reason: 'cancelled' | 'expired' = 'cancelled',
): PaymentIntentCancelled => ({
  type: 'payment.intent_cancelled',
  id: randomUUID(),
  orderId,
  reason,
  at: new Date().toISOString(),
});

t.test(
  'an intent paid with the approve card: one payment, brand, last four and fingerprint, the result queued, the story audited',
  async (t) => {
    const { payments, counts } = await start(t);
    const owed = intent({ amountMinor: 4999, currency: 'USD' });
    t.same(await receiveIntent(payments.deps, owed), { recorded: true });
    t.same(
      await receiveIntent(payments.deps, owed),
      { recorded: false },
      'a repeat changes nothing',
    );
    const request = await payments.request(owed.orderId, owed.userId);
    const answer = await requestPayment(payments.deps, request);
    t.equal(answer.kind, 'charged');
    const rows = await payments.db('payments').select('*');
    t.equal(rows.length, 1);
    const row = rows[0];
    t.match(row, {
      order_id: owed.orderId,
      request_id: request.requestId,
      user_id: owed.userId,
      amount_minor: 4999,
      currency: 'USD',
      status: 'succeeded',
      method: 'card',
      card_brand: 'visa',
      card_last4: '4242',
      card_fingerprint: cardFingerprint(testCards.approved, fingerprintKey),
      decline_code: null,
      transaction_id: /^sbx_ch_/,
      refunded_minor: 0,
    });
    t.same(await queuedResults(payments.db), [
      {
        type: 'payment.approved',
        id: row.result.id,
        requestId: request.requestId,
        orderId: owed.orderId,
        paymentId: row.id,
        amountMinor: 4999,
        currency: 'USD',
        transactionId: row.transaction_id,
        cardBrand: 'visa',
        cardLast4: '4242',
        at: row.result.at,
      },
    ]);
    t.same(await events(payments, owed.orderId), [
      'intent_received',
      'payment_started',
      'payment_approved',
    ]);
    t.equal(counts.charges, 1);

    // The same request again: the first result again, the very same event; no second charge.
    // While the first is still queued it goes out anyway, once.
    t.same(await requestPayment(payments.deps, request), { kind: 'repeated', result: row.result });
    t.equal((await queuedResults(payments.db)).length, 1, 'not queued twice');
    await relayed(payments);
    t.same(await requestPayment(payments.deps, request), { kind: 'repeated', result: row.result });
    const results = await queuedResults(payments.db);
    t.equal(results.length, 2, 'queued again once the first was sent');
    t.same(results[1], results[0]);
    t.equal(counts.charges, 1);
    // Another request for the paid order is refused.
    const other = await requestPayment(
      payments.deps,
      await payments.request(owed.orderId, owed.userId),
    );
    t.same(other, { kind: 'refused', reason: 'order_already_paid' });
    t.equal(counts.charges, 1);
  },
);

t.test(
  'a declined card fails the payment with the processor’s code, and the order may be paid again',
  async (t) => {
    const { payments } = await start(t);
    const owed = intent();
    await receiveIntent(payments.deps, owed);
    for (const [number, code] of [
      [testCards.declined, 'card_declined'],
      [testCards.insufficientFunds, 'insufficient_funds'],
      [testCards.expired, 'expired_card'],
      [testCards.incorrectCvc, 'incorrect_cvc'],
      [testCards.processingError, 'processing_error'],
    ] as const) {
      const answer = await requestPayment(
        payments.deps,
        await payments.request(owed.orderId, owed.userId, number),
      );
      t.match(
        answer,
        {
          kind: 'charged',
          result: { type: 'payment.declined', reason: code, cardLast4: number.slice(-4) },
        },
        code,
      );
    }
    const approved = await requestPayment(
      payments.deps,
      await payments.request(owed.orderId, owed.userId),
    );
    t.match(approved, { kind: 'charged', result: { type: 'payment.approved' } });
    const statuses = await payments.db('payments').orderBy('created_at').pluck('status');
    t.same(statuses, ['failed', 'failed', 'failed', 'failed', 'failed', 'succeeded']);
    t.same(
      await payments
        .db('payments')
        .whereNotNull('decline_code')
        .orderBy('created_at')
        .pluck('decline_code'),
      ['card_declined', 'insufficient_funds', 'expired_card', 'incorrect_cvc', 'processing_error'],
    );
  },
);

t.test(
  'requests payments does not try are refused with a code, audited, and store no payment',
  async (t) => {
    let now = new Date();
    const { payments, counts } = await start(t, () => now);
    const owed = intent({ expiresAt: new Date(now.getTime() + 60_000).toISOString() });
    await receiveIntent(payments.deps, owed);
    const cancelled = intent();
    await receiveIntent(payments.deps, cancelled);
    await receiveIntentCancellation(payments.deps, cancellation(cancelled.orderId));
    const unreadable = {
      ...(await payments.request(owed.orderId, owed.userId)),
      card: 'a.b.c.d.e',
    };

    const cases: Array<[string, () => Promise<unknown>, string]> = [
      [
        'no intent for the order',
        async () =>
          requestPayment(payments.deps, await payments.request(randomUUID(), owed.userId)),
        'unknown_order',
      ],
      [
        'another user’s order',
        async () =>
          requestPayment(payments.deps, await payments.request(owed.orderId, randomUUID())),
        'unknown_order',
      ],
      [
        'a cancelled order',
        async () =>
          requestPayment(
            payments.deps,
            await payments.request(cancelled.orderId, cancelled.userId),
          ),
        'order_not_payable',
      ],
      [
        'a card for no key of payments',
        () => requestPayment(payments.deps, unreadable),
        'unreadable_card',
      ],
    ];
    for (const [name, answer, reason] of cases)
      t.same(await answer(), { kind: 'refused', reason }, name);
    now = new Date(now.getTime() + 60_000);
    t.same(
      await requestPayment(payments.deps, await payments.request(owed.orderId, owed.userId)),
      { kind: 'refused', reason: 'order_not_payable' },
      'past the intent’s deadline',
    );
    t.equal(
      await payments
        .db('payments')
        .count('* as n')
        .first()
        .then((row) => Number(row!.n)),
      0,
    );
    t.equal(counts.charges, 0);
    const refusals = await queuedResults(payments.db);
    t.same(
      refusals.map((result) => [result.type, result.reason]),
      [
        ['payment.refused', 'unknown_order'],
        ['payment.refused', 'unknown_order'],
        ['payment.refused', 'order_not_payable'],
        ['payment.refused', 'unreadable_card'],
        ['payment.refused', 'order_not_payable'],
      ],
    );
    t.notOk(
      refusals.some((result) => 'paymentId' in result || 'amountMinor' in result),
      'nothing but the reason',
    );
    t.same(await events(payments, owed.orderId), [
      'intent_received',
      'payment_refused',
      'payment_refused',
      'payment_refused',
    ]);
  },
);

t.test(
  'a request that races its intent is refused unknown_order, and the same request succeeds once the intent is there',
  async (t) => {
    const { payments } = await start(t);
    const owed = intent();
    const request = await payments.request(owed.orderId, owed.userId);
    t.same(await requestPayment(payments.deps, request), {
      kind: 'refused',
      reason: 'unknown_order',
    });
    await receiveIntent(payments.deps, owed);
    t.match(await requestPayment(payments.deps, request), {
      kind: 'charged',
      result: { type: 'payment.approved' },
    });
  },
);

t.test(
  'a cancellation that arrives before its intent: the intent cannot revive the order',
  async (t) => {
    const { payments } = await start(t);
    const owed = intent();
    t.same(await receiveIntentCancellation(payments.deps, cancellation(owed.orderId, 'expired')), {
      cancelled: true,
      refunded: [],
    });
    t.same(await receiveIntent(payments.deps, owed), { recorded: true });
    t.same(await requestPayment(payments.deps, await payments.request(owed.orderId, owed.userId)), {
      kind: 'refused',
      reason: 'order_not_payable',
    });
    t.match(await payments.db('intents').where({ order_id: owed.orderId }).first(), {
      amount_minor: 2599,
      cancelled_reason: 'expired',
    });
  },
);

t.test('20 concurrent deliveries of one request charge once', async (t) => {
  const { payments, counts } = await start(t);
  const owed = intent();
  await receiveIntent(payments.deps, owed);
  const request = await payments.request(owed.orderId, owed.userId);
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => requestPayment(payments.deps, request)),
  );
  t.equal(counts.charges, 1, 'one charge');
  t.equal(answers.filter((answer) => answer.kind === 'charged').length, 1);
  t.ok(
    answers.every((answer) => ['charged', 'repeated', 'in_progress'].includes(answer.kind)),
    JSON.stringify(answers.filter((answer) => answer.kind === 'refused')),
  );
  const rows = await payments.db('payments').select('status', 'result');
  t.same(
    rows.map((row) => row.status),
    ['succeeded'],
  );
  const results = await queuedResults(payments.db);
  t.ok(results.length >= 1);
  t.ok(
    results.every((result) => result.id === rows[0].result.id),
    'one result, perhaps sent again',
  );
});

t.test(
  '20 concurrent requests with 20 ids for one order: exactly one approved, the others refused',
  async (t) => {
    const { payments, counts } = await start(t);
    const owed = intent();
    await receiveIntent(payments.deps, owed);
    const requests = await Promise.all(
      Array.from({ length: 20 }, () => payments.request(owed.orderId, owed.userId)),
    );
    const answers = await Promise.all(
      requests.map((request) => requestPayment(payments.deps, request)),
    );
    t.equal(counts.charges, 1, 'one charge');
    const charged = answers.filter((answer) => answer.kind === 'charged');
    t.equal(charged.length, 1);
    const reasons = answers.flatMap((answer) => (answer.kind === 'refused' ? [answer.reason] : []));
    t.equal(reasons.length, 19);
    t.ok(
      reasons.every(
        (reason) => reason === 'payment_in_progress' || reason === 'order_already_paid',
      ),
      reasons.join(),
    );
    t.same(await payments.db('payments').pluck('status'), ['succeeded']);
    const results = await queuedResults(payments.db);
    t.equal(results.filter((result) => result.type === 'payment.approved').length, 1);
    t.equal(results.filter((result) => result.type === 'payment.refused').length, 19);
  },
);

t.test(
  'while a payment is processing, another request for the order is refused payment_in_progress',
  async (t) => {
    const { payments, holds } = await start(t);
    const owed = intent();
    await receiveIntent(payments.deps, owed);
    const { slow } = await payWithHeldSlowCard(payments, owed, holds);
    t.same(await payments.db('payments').pluck('status'), ['processing']);
    t.same(await requestPayment(payments.deps, await payments.request(owed.orderId, owed.userId)), {
      kind: 'refused',
      reason: 'payment_in_progress',
    });
    holds[0]!();
    t.match(await slow, { kind: 'charged', result: { type: 'payment.approved' } });
  },
);

t.test(
  'the audit log is append-only: the database refuses UPDATE, DELETE and TRUNCATE',
  async (t) => {
    const { payments } = await start(t);
    const owed = intent();
    await receiveIntent(payments.deps, owed);
    const before = await payments.db('payment_events').select('*');
    t.equal(before.length, 1);
    await t.rejects(payments.db('payment_events').update({ reason: 'edited' }), { code: '42501' });
    await t.rejects(payments.db('payment_events').del(), { code: '42501' });
    await t.rejects(payments.db.raw('truncate payment_events'), { code: '42501' });
    t.same(await payments.db('payment_events').select('*'), before);
  },
);

t.test(
  'a cancellation after the approval refunds the payment in full, published and audited',
  async (t) => {
    const { payments, counts } = await start(t);
    const owed = intent();
    await receiveIntent(payments.deps, owed);
    const approved = await requestPayment(
      payments.deps,
      await payments.request(owed.orderId, owed.userId),
    );
    if (approved.kind !== 'charged') throw new Error('not charged');
    const paymentId = approved.result.paymentId!;
    const cancelled = await receiveIntentCancellation(payments.deps, cancellation(owed.orderId));
    t.same(cancelled, { cancelled: true, refunded: [paymentId] });
    t.same(await receiveIntentCancellation(payments.deps, cancellation(owed.orderId)), {
      cancelled: false,
      refunded: [],
    });
    t.equal(counts.refunds, 1);
    t.match(await payments.db('payments').where({ id: paymentId }).first(), {
      status: 'refunded',
      refunded_minor: 2599,
    });
    const refund = await payments.db('refunds').first();
    t.match(refund, {
      id: `void-${paymentId}`,
      payment_id: paymentId,
      amount_minor: 2599,
      reason: 'order_cancelled',
      status: 'succeeded',
    });
    const results = await queuedResults(payments.db);
    t.same(
      results.map((result) => result.type),
      ['payment.approved', 'payment.refunded'],
    );
    t.same(results[1], {
      type: 'payment.refunded',
      id: refund.result.id,
      requestId: `void-${paymentId}`,
      orderId: owed.orderId,
      paymentId,
      amountMinor: 2599,
      currency: 'EUR',
      transactionId: refund.transaction_id,
      reason: 'order_cancelled',
      at: refund.result.at,
    });
    t.same(await events(payments, owed.orderId), [
      'intent_received',
      'payment_started',
      'payment_approved',
      'intent_cancelled',
      'payment_refunded',
    ]);
    // orders voiding the same payment afterwards gets nothing more back.
    t.same(
      await refundPayment(payments.deps, {
        refundId: 'orders-void-1',
        paymentId,
        orderId: owed.orderId,
        reason: 'order_cancelled',
      }),
      { kind: 'refused', reason: 'refund_exceeds_captured' },
    );
    t.equal(counts.refunds, 1);
  },
);

t.test(
  'a payment approved after its order expired (cancellation while processing) is refunded when it completes',
  async (t) => {
    const { payments, holds } = await start(t);
    const owed = intent();
    await receiveIntent(payments.deps, owed);
    const { slow } = await payWithHeldSlowCard(payments, owed, holds);
    t.same(await receiveIntentCancellation(payments.deps, cancellation(owed.orderId, 'expired')), {
      cancelled: true,
      refunded: [],
    });
    holds[0]!();
    t.match(await slow, { kind: 'charged', result: { type: 'payment.approved' } });
    t.same(await payments.db('payments').pluck('status'), ['refunded']);
    const results = await queuedResults(payments.db);
    t.same(
      results.map((result) => [result.type, result.reason ?? null]),
      [
        ['payment.approved', null],
        ['payment.refunded', 'order_expired'],
      ],
    );
  },
);

t.test(
  'refunds: partial, idempotent by refund id, never more than captured, even when concurrent',
  async (t) => {
    const { payments, counts } = await start(t);
    const owed = intent({ amountMinor: 1000 });
    await receiveIntent(payments.deps, owed);
    const approved = await requestPayment(
      payments.deps,
      await payments.request(owed.orderId, owed.userId),
    );
    if (approved.kind !== 'charged') throw new Error('not charged');
    const paymentId = approved.result.paymentId!;
    const ask = (refundId: string, amountMinor: number) =>
      refundPayment(payments.deps, {
        refundId,
        paymentId,
        orderId: owed.orderId,
        amountMinor,
        reason: 'requested_by_customer',
      });

    const first = await ask('refund-1', 300);
    t.match(first, {
      kind: 'refunded',
      result: { type: 'payment.refunded', amountMinor: 300, requestId: 'refund-1' },
    });
    await relayed(payments);
    t.same(await ask('refund-1', 300), { kind: 'repeated' });
    t.equal(counts.refunds, 1);
    t.match(await payments.db('payments').where({ id: paymentId }).first(), {
      status: 'succeeded',
      refunded_minor: 300,
    });
    t.same(await ask('refund-2', 701), { kind: 'refused', reason: 'refund_exceeds_captured' });
    // 10 concurrent refunds of 100 on the 700 left: 7 go through.
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, index) => ask(`many-${index}`, 100)),
    );
    t.equal(answers.filter((answer) => answer.kind === 'refunded').length, 7);
    t.equal(answers.filter((answer) => answer.kind === 'refused').length, 3);
    t.match(await payments.db('payments').where({ id: paymentId }).first(), {
      status: 'refunded',
      refunded_minor: 1000,
    });
    t.same(
      await refundPayment(payments.deps, {
        refundId: 'r-x',
        paymentId: randomUUID(),
        orderId: owed.orderId,
        reason: 'x',
      }),
      { kind: 'refused', reason: 'unknown_payment' },
    );
    t.same(
      await refundPayment(payments.deps, {
        refundId: 'r-y',
        paymentId,
        orderId: randomUUID(),
        reason: 'x',
      }),
      { kind: 'refused', reason: 'unknown_payment' },
      'the payment of another order',
    );
    const results = await queuedResults(payments.db);
    const repeated = results.filter((result) => result.requestId === 'refund-1');
    t.equal(repeated.length, 2);
    t.same(repeated[1], repeated[0], 'the repeat republishes the same event');
    const refunded = await payments
      .db('payment_events')
      .where({ payment_id: paymentId, type: 'payment_refunded' })
      .sum('amount_minor as sum')
      .first();
    t.equal(Number(refunded!.sum), 1000, 'the audit adds up to what was refunded');
  },
);

t.test('a declined payment cannot be refunded', async (t) => {
  const { payments } = await start(t);
  const owed = intent();
  await receiveIntent(payments.deps, owed);
  const declined = await requestPayment(
    payments.deps,
    await payments.request(owed.orderId, owed.userId, testCards.declined),
  );
  if (declined.kind !== 'charged') throw new Error('not tried');
  t.same(
    await refundPayment(payments.deps, {
      refundId: 'r',
      paymentId: declined.result.paymentId!,
      orderId: owed.orderId,
      reason: 'x',
    }),
    { kind: 'refused', reason: 'payment_not_captured' },
  );
});

t.test(
  'a payment abandoned mid-charge, which the processor never answered, is declined processing_error; a late approval is given back',
  async (t) => {
    const { payments, holds, counts } = await start(t);
    const owed = intent();
    await receiveIntent(payments.deps, owed);
    const { slow } = await payWithHeldSlowCard(payments, owed, holds);
    t.equal(
      await recoverAbandonedPayments(payments.deps, { abandonedAfterMs: 60_000 }),
      0,
      'not yet',
    );
    t.equal(await recoverAbandonedPayments(payments.deps, { abandonedAfterMs: 0 }), 1);
    const [payment] = await payments.db('payments').select('*');
    t.match(payment, { status: 'failed', decline_code: 'processing_error' });
    t.same(
      (await queuedResults(payments.db)).map((result) => [result.type, result.reason]),
      [['payment.declined', 'processing_error']],
    );
    // The order can be paid again.
    t.match(
      await requestPayment(payments.deps, await payments.request(owed.orderId, owed.userId)),
      {
        kind: 'charged',
        result: { type: 'payment.approved' },
      },
    );
    // The processor answers the abandoned charge after all: recorded nowhere, given back.
    holds[0]!();
    t.match(await slow, {
      kind: 'charged',
      result: { type: 'payment.declined', paymentId: payment.id },
    });
    t.equal(counts.refunds, 1);
    t.match(await payments.db('payments').where({ id: payment.id }).first(), { status: 'failed' });
    t.same(
      await payments
        .db('payment_events')
        .where({ payment_id: payment.id })
        .orderBy('id')
        .select('type', 'reason'),
      [
        { type: 'payment_started', reason: null },
        { type: 'payment_declined', reason: 'processing_error' },
        { type: 'payment_refunded', reason: 'late_approval' },
      ],
    );
    t.equal(
      (await queuedResults(payments.db, owed.orderId)).length,
      2,
      'no result for the late approval',
    );
  },
);

t.test(
  'a payment whose process died after the processor approved it is settled as approved, from the processor’s answer',
  async (t) => {
    const sandbox = createSandboxProcessor({
      now: () => new Date(),
      minAmountMinor: 50,
      maxAmountMinor: 99_999_999,
      slowCardDelayMs: 0,
    });
    let charged = 0;
    const dying: CardProcessor = {
      async charge(request) {
        await sandbox.charge(request);
        charged++;
        // The process dies here: the answer never reaches payments' database.
        return new Promise(() => undefined);
      },
      retrieve: (paymentId) => sandbox.retrieve(paymentId),
      refund: (request) => sandbox.refund(request),
    };
    const payments = await startPayments(t, {}, { processor: dying });
    const owed = intent();
    await receiveIntent(payments.deps, owed);
    void requestPayment(payments.deps, await payments.request(owed.orderId, owed.userId));
    await eventually('the charge at the processor', () => charged === 1);
    t.equal(await recoverAbandonedPayments(payments.deps, { abandonedAfterMs: 0 }), 1);
    const [payment] = await payments.db('payments').select('*');
    t.match(payment, { status: 'succeeded', transaction_id: /^sbx_ch_/ });
    t.match(await queuedResults(payments.db), [
      { type: 'payment.approved', paymentId: payment.id, transactionId: payment.transaction_id },
    ]);
    t.equal(
      await recoverAbandonedPayments(payments.deps, { abandonedAfterMs: 0 }),
      0,
      'settled once',
    );
  },
);

const statusRequest = (orderIds: string[], expire: boolean): PaymentStatusRequested => ({
  type: 'payment.status_requested',
  id: randomUUID(),
  orderIds,
  expire,
  at: new Date().toISOString(),
});

/** The answers queued on `payments/status/{orderId}` for one status request. */
async function statusAnswers(payments: PaymentsHarness, requestId: string) {
  const rows: Array<{ topic: string; payload: Record<string, any> }> = await payments
    .db('outbox')
    .whereRaw("payload->>'requestId' = ?", [requestId])
    .orderBy('id')
    .select('topic', 'payload');
  return rows;
}

t.test(
  'a status request: a succeeded payment’s result published again, processing, open, closed; with expire, intents nobody paid are closed and no payment starts after',
  async (t) => {
    let now = new Date();
    const { payments, holds, counts } = await start(t, () => now);
    const paid = intent();
    const slow = intent();
    const open = intent();
    const lapsed = intent({ expiresAt: new Date(now.getTime() + 60_000).toISOString() });
    for (const owed of [paid, slow, open, lapsed]) await receiveIntent(payments.deps, owed);
    const charged = await requestPayment(
      payments.deps,
      await payments.request(paid.orderId, paid.userId),
    );
    t.match(charged, { kind: 'charged', result: { type: 'payment.approved' } });
    const approved = (charged as { result: { id: string; paymentId: string } }).result;
    await relayed(payments);
    await payWithHeldSlowCard(payments, slow, holds);
    now = new Date(now.getTime() + 120_000);
    const unknown = randomUUID();

    const asked = statusRequest(
      [paid.orderId, slow.orderId, open.orderId, lapsed.orderId, unknown],
      false,
    );
    t.same(await answerStatusRequest(payments.deps, asked), {
      [paid.orderId]: 'succeeded',
      [slow.orderId]: 'processing',
      [open.orderId]: 'open',
      [lapsed.orderId]: 'closed',
      [unknown]: 'unknown',
    });
    const answers = await statusAnswers(payments, asked.id);
    t.same(
      answers.map((row) => [row.topic, row.payload.state, row.payload.paymentId ?? null]),
      [
        [`payments/status/${paid.orderId}`, 'succeeded', approved.paymentId],
        [`payments/status/${slow.orderId}`, 'processing', null],
        [`payments/status/${open.orderId}`, 'open', null],
        [`payments/status/${lapsed.orderId}`, 'closed', null],
        [`payments/status/${unknown}`, 'unknown', null],
      ],
    );
    const resent = (await queuedResults(payments.db, paid.orderId)).filter(
      (result) => result.id === approved.id,
    );
    t.equal(resent.length, 2, 'the approved result again, the same event, once relayed');
    t.same(
      await payments.db('intents').whereNotNull('cancelled_reason').pluck('order_id'),
      [],
      'only asked: nothing closed',
    );

    const closing = statusRequest([slow.orderId, open.orderId, unknown], true);
    t.same(await answerStatusRequest(payments.deps, closing), {
      [slow.orderId]: 'processing',
      [open.orderId]: 'closed',
      [unknown]: 'closed',
    });
    t.same(
      (await payments.db('intents').whereNotNull('cancelled_reason').pluck('order_id')).sort(),
      [open.orderId, unknown].sort(),
      'closed unless a payment is under way; an order payments never heard of too',
    );
    t.same(await events(payments, open.orderId), ['intent_received', 'intent_cancelled']);
    t.same(
      await requestPayment(payments.deps, await payments.request(open.orderId, open.userId)),
      { kind: 'refused', reason: 'order_not_payable' },
      'no payment starts after it closed',
    );
    const lateIntent = intent({ orderId: unknown });
    await receiveIntent(payments.deps, lateIntent);
    t.same(
      await requestPayment(payments.deps, await payments.request(unknown, lateIntent.userId)),
      { kind: 'refused', reason: 'order_not_payable' },
      'an intent arriving after it closed cannot revive the order',
    );
    t.same(
      await answerStatusRequest(payments.deps, statusRequest([open.orderId], true)),
      { [open.orderId]: 'closed' },
      'asked again: the same answer',
    );
    t.same(await events(payments, open.orderId), [
      'intent_received',
      'intent_cancelled',
      'payment_refused',
    ]);
    holds[0]!();
    await eventually('the slow payment completed', async () =>
      (await payments.db('payments').where({ order_id: slow.orderId }).pluck('status')).includes(
        'succeeded',
      ),
    );
    t.same(
      await answerStatusRequest(payments.deps, statusRequest([slow.orderId], true)),
      { [slow.orderId]: 'succeeded' },
      'a payment that completed is never closed away',
    );
    t.equal(counts.charges, 2);
  },
);
