import { randomUUID } from 'node:crypto';
import t from 'tap';
import { encryptCard, type TerminalResult } from '@mercado/common/contract';
import { paymentEvent } from '../src/data/events-repository.js';
import { startWalkIns } from '../src/data/walk-ins-repository.js';
import { generateCardKey } from '../src/keys.js';
import {
  card,
  eventually,
  everyRow,
  heldProcessor,
  mosquittoPublish,
  mosquittoSubscribe,
  publicOf,
  publishIntent,
  testCards,
} from './helpers.js';
import { connectTerminal, setUpTerminals } from './terminal-helpers.js';

const walkIn = async (
  terminal: { card(number?: string): Promise<string> },
  amountMinor = 1_250,
  number: string = testCards.approved,
  currency = 'EUR',
) => ({
  type: 'terminal.payment_requested' as const,
  requestId: randomUUID(),
  amountMinor,
  currency,
  card: await terminal.card(number),
});

/** The grouped, lower-case form a shopper reads out: what a keypad may send. */
const typed = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`.toLowerCase();

t.test(
  'a walk-in payment: approved or declined, answered once, stored without the card',
  async (t) => {
    const { broker, payments } = await setUpTerminals(t);
    const terminal = await connectTerminal(t, broker);

    const request = await walkIn(terminal, 1_250);
    const approved = await terminal.ask(request);
    t.match(approved, {
      type: 'terminal.result',
      requestId: request.requestId,
      request: 'payment',
      result: 'success',
      transactionId: /^sbx_ch_/,
      amountMinor: 1_250,
      currency: 'EUR',
      cardBrand: 'visa',
      cardLast4: '4242',
    });
    t.notOk(approved.errorCondition);
    const row = await payments.db('payments').where({ id: approved.paymentId }).first();
    t.match(row, {
      method: 'card_present',
      terminal_id: terminal.id,
      order_id: null,
      status: 'succeeded',
      amount_minor: 1_250,
    });

    const declined = await terminal.ask(await walkIn(terminal, 990, testCards.insufficientFunds));
    t.match(declined, {
      result: 'failure',
      errorCondition: 'insufficient_funds',
      cardLast4: '9995',
    });

    const rows = (await everyRow(payments.db)).join('\n');
    t.notOk(rows.includes(testCards.approved), 'no table holds the number');
    t.notOk(rows.includes(testCards.insufficientFunds), 'nor the declined one');
  },
);

t.test('an order paid at a terminal by its pay code: the order’s amount, once', async (t) => {
  const { broker, payments } = await setUpTerminals(t);
  const terminal = await connectTerminal(t, broker);
  const { owed, results } = await publishIntent(t, broker, payments.db, {
    resultsAs: 'orders',
    payCode: 'K7QM2XWP',
    amountMinor: 4_599,
  });

  const request = {
    type: 'terminal.order_payment_requested' as const,
    requestId: randomUUID(),
    payCode: typed('K7QM2XWP'),
    card: await terminal.card(),
  };
  const paid = await terminal.ask(request);
  t.match(paid, {
    request: 'order_payment',
    result: 'success',
    orderId: owed.orderId,
    amountMinor: 4_599,
    currency: 'EUR',
  });
  const [result] = await eventually('orders hears of it', () =>
    results.messages.length > 0 ? results.messages.map((line) => JSON.parse(line)) : undefined,
  );
  t.match(result, {
    type: 'payment.approved',
    orderId: owed.orderId,
    paymentId: paid.paymentId,
    amountMinor: 4_599,
    transactionId: paid.transactionId,
  });

  // Paid: a second terminal, or the same one again under another request id, is refused.
  const other = await connectTerminal(t, broker);
  const again = await other.ask({ ...request, requestId: randomUUID(), card: await other.card() });
  t.match(again, { result: 'failure', errorCondition: 'order_already_paid' });
  t.equal(
    Number((await payments.db('payments').where({ order_id: owed.orderId }).count())[0]!.count),
    1,
    'one payment of the order',
  );
});

t.test('a pay code that names no payable order is refused with a stable condition', async (t) => {
  const { broker, payments } = await setUpTerminals(t);
  const terminal = await connectTerminal(t, broker);
  const { owed: cancelled } = await publishIntent(t, broker, payments.db, { payCode: 'CANCE11D' });
  await mosquittoPublish(
    broker,
    'orders',
    'payments/intents',
    JSON.stringify({
      type: 'payment.intent_cancelled',
      id: randomUUID(),
      orderId: cancelled.orderId,
      reason: 'cancelled',
      at: new Date().toISOString(),
    }),
  );
  await eventually('the cancellation recorded', () =>
    payments
      .db('intents')
      .where({ order_id: cancelled.orderId })
      .whereNotNull('cancelled_at')
      .first(),
  );
  await publishIntent(t, broker, payments.db, {
    payCode: 'EXP1RED0',
    expiresAt: new Date(Date.now() - 1_000).toISOString(),
  });

  const byCode = async (payCode: string) =>
    terminal.ask({
      type: 'terminal.order_payment_requested',
      requestId: randomUUID(),
      payCode,
      card: await terminal.card(),
    });
  t.match(await byCode('ZZZZ-ZZZZ'), { result: 'failure', errorCondition: 'unknown_pay_code' });
  t.match(await byCode('SHORT'), { result: 'failure', errorCondition: 'unknown_pay_code' });
  t.match(await byCode('cance11d'), { result: 'failure', errorCondition: 'order_not_payable' });
  // I and L read as 1, O as 0, as Crockford's base32 reads them.
  t.match(await byCode('EXPIREDO'), { result: 'failure', errorCondition: 'order_not_payable' });
  t.equal(Number((await payments.db('payments').count())[0]!.count), 0, 'no payment was started');
});

t.test('an order paid online and at a terminal at once is charged once', async (t) => {
  const { broker, payments } = await setUpTerminals(t);
  const terminal = await connectTerminal(t, broker);
  for (let round = 0; round < 5; round++) {
    const payCode = `RACE000${round}`;
    const { owed, results } = await publishIntent(t, broker, payments.db, {
      resultsAs: 'orders',
      payCode,
    });
    const online = await payments.request(owed.orderId, owed.userId);
    const [atTerminal] = await Promise.all([
      terminal.ask({
        type: 'terminal.order_payment_requested',
        requestId: randomUUID(),
        payCode,
        card: await terminal.card(),
      }),
      mosquittoPublish(broker, 'gateway', 'payments/requests', JSON.stringify(online)),
    ]);
    const onlineResult = await eventually('the online request answered', () =>
      results.messages
        .map((line) => JSON.parse(line) as { requestId: string; type: string; reason?: string })
        .find((result) => result.requestId === online.requestId),
    );
    const succeeded = await payments
      .db('payments')
      .where({ order_id: owed.orderId, status: 'succeeded' });
    t.equal(succeeded.length, 1, `round ${round}: one charge`);
    const terminalWon = atTerminal.result === 'success';
    t.equal(onlineResult.type === 'payment.approved', !terminalWon, 'exactly one of the two won');
    if (terminalWon) {
      t.match(onlineResult, {
        type: 'payment.refused',
        reason: /^(order_already_paid|payment_in_progress)$/,
      });
    } else {
      t.match(atTerminal, { errorCondition: /^(order_already_paid|payment_in_progress)$/ });
    }
  }
});

t.test(
  'the same request id sent 5 times charges once; another request under it is refused',
  async (t) => {
    const { broker, payments } = await setUpTerminals(t);
    const terminal = await connectTerminal(t, broker);
    const request = await walkIn(terminal, 777);
    await Promise.all(Array.from({ length: 5 }, () => terminal.send(request)));
    const first = await terminal.answerTo(request.requestId);
    const status = await terminal.ask({
      type: 'terminal.status_requested',
      requestId: randomUUID(),
      ofRequestId: request.requestId,
    });
    t.match(status, { result: 'success', state: 'processed', ofRequestId: request.requestId });
    t.equal(status.original?.id, first.id, 'the status carries the first answer');
    const answers = terminal.answers.filter((answer) => answer.requestId === request.requestId);
    t.ok(
      answers.every((answer) => answer.id === first.id),
      'every answer is the first one',
    );
    t.equal(
      (await payments.db('payments').where({ terminal_id: terminal.id })).length,
      1,
      'one payment',
    );

    // Sent again afterwards: the first answer again, the same event.
    t.equal((await terminal.ask(request)).id, first.id);
    // The card encrypted again is the same request; another amount is not.
    t.equal((await terminal.ask({ ...request, card: await terminal.card() })).id, first.id);
    t.match(await terminal.ask({ ...request, amountMinor: 778 }), {
      result: 'failure',
      errorCondition: 'request_id_reused',
    });
    t.equal((await payments.db('payments').where({ terminal_id: terminal.id })).length, 1);
  },
);

t.test(
  'status of a request in progress, abort until approval, and a late abort refused',
  async (t) => {
    const held = heldProcessor();
    const { broker, payments } = await setUpTerminals(t, {}, held.processor);
    const terminal = await connectTerminal(t, broker);

    const slow = await walkIn(terminal, 2_000, testCards.slow);
    await terminal.send(slow);
    await eventually('the charge is under way', () => held.held() === 1);
    const status = (ofRequestId: string) =>
      terminal.ask({ type: 'terminal.status_requested', requestId: randomUUID(), ofRequestId });
    t.match(await status(slow.requestId), { state: 'in_progress' });
    t.match(await status(randomUUID()), { result: 'success', state: 'not_found' });

    const aborted = await terminal.ask({
      type: 'terminal.abort_requested',
      requestId: randomUUID(),
      ofRequestId: slow.requestId,
    });
    t.match(aborted, { request: 'abort', result: 'success', ofRequestId: slow.requestId });
    held.release();
    const answer = await terminal.answerTo(slow.requestId);
    t.match(answer, { result: 'failure', errorCondition: 'aborted' });
    t.match(
      await terminal.ask({
        type: 'terminal.abort_requested',
        requestId: randomUUID(),
        ofRequestId: slow.requestId,
      }),
      { request: 'abort', result: 'success', ofRequestId: slow.requestId },
      'aborting it again, once it is answered aborted: no refusal',
    );
    const payment = await payments.db('payments').where({ id: answer.paymentId }).first();
    t.match(payment, { status: 'failed', decline_code: 'aborted' });
    await eventually('the approval given back', () =>
      payments
        .db('payment_events')
        .where({ payment_id: answer.paymentId, type: 'payment_refunded', reason: 'aborted' })
        .first(),
    );

    // Approved already: too late to abort.
    const done = await terminal.ask(await walkIn(terminal));
    t.match(
      await terminal.ask({
        type: 'terminal.abort_requested',
        requestId: randomUUID(),
        ofRequestId: done.requestId,
      }),
      { result: 'failure', errorCondition: 'not_abortable' },
    );

    // An abort that overtakes its request: the request, when it comes, is never charged.
    const overtaken = await walkIn(terminal);
    t.match(
      await terminal.ask({
        type: 'terminal.abort_requested',
        requestId: randomUUID(),
        ofRequestId: overtaken.requestId,
      }),
      { result: 'success' },
    );
    t.match(await terminal.ask(overtaken), { result: 'failure', errorCondition: 'aborted' });
    t.equal((await payments.db('payments').where({ terminal_id: terminal.id })).length, 2);
  },
);

t.test(
  'a terminal with an open period: aborted, or its period closed, while the processor answers',
  async (t) => {
    // A walk-in payment is recorded in one statement in the period open when it started; these
    // are the two things that statement must leave to the transaction.
    const held = heldProcessor();
    const { broker, payments } = await setUpTerminals(t, {}, held.processor);
    const terminal = await connectTerminal(t, broker);
    t.match(await terminal.ask(await walkIn(terminal, 500)), { result: 'success' });
    const totals = async (periodId?: string) =>
      (
        await terminal.ask({
          type: 'terminal.reconciliation_requested',
          requestId: randomUUID(),
          action: 'totals',
          ...(periodId ? { periodId } : {}),
        })
      ).period!;
    // The period is open now: the next payment is recorded in one statement, answer included.
    const second = await walkIn(terminal, 550);
    const paid = await terminal.ask(second);
    t.match(paid, { result: 'success', amountMinor: 550 });
    t.match(
      await terminal.ask({
        type: 'terminal.status_requested',
        requestId: randomUUID(),
        ofRequestId: second.requestId,
      }),
      { state: 'processed', original: { id: paid.id, result: 'success' } },
    );
    t.equal((await terminal.ask(second)).id, paid.id, 'a repeat gets the same answer');
    const first = await totals();
    t.match(first.totals, [{ currency: 'EUR', approved: { count: 2, amountMinor: 1_050 } }]);

    const aborted = await walkIn(terminal, 600, testCards.slow);
    await terminal.send(aborted);
    await eventually('the charge is under way', () => held.held() === 1);
    t.match(
      await terminal.ask({
        type: 'terminal.abort_requested',
        requestId: randomUUID(),
        ofRequestId: aborted.requestId,
      }),
      { result: 'success' },
    );
    held.release();
    t.match(await terminal.answerTo(aborted.requestId), {
      result: 'failure',
      errorCondition: 'aborted',
    });

    const closing = await walkIn(terminal, 700, testCards.slow);
    await terminal.send(closing);
    await eventually('the next charge is under way', () => held.held() === 1);
    const closed = await terminal.ask({
      type: 'terminal.reconciliation_requested',
      requestId: randomUUID(),
      action: 'close',
    });
    t.equal(closed.period?.periodId, first.periodId);
    held.release();
    t.match(await terminal.answerTo(closing.requestId), { result: 'success', amountMinor: 700 });

    t.strictSame(
      (await totals(first.periodId)).totals,
      first.totals,
      'the aborted payment is in no total, the closed period unchanged',
    );
    const next = await totals();
    t.not(next.periodId, first.periodId);
    t.match(next.totals, [{ currency: 'EUR', approved: { count: 1, amountMinor: 700 } }]);
    const transactions = await payments
      .db('terminal_transactions')
      .where({ terminal_id: terminal.id });
    t.equal(transactions.length, 3, 'one transaction for each payment not aborted');
  },
);

t.test(
  'payments whose answers come together are recorded in one statement; an aborted one and those of a closed period alone',
  async (t) => {
    const held = heldProcessor();
    const { broker, payments } = await setUpTerminals(t, {}, held.processor);
    const terminals = await Promise.all([1, 2, 3].map(() => connectTerminal(t, broker)));
    // Each pays once first: that opens its period, the transaction's path.
    for (const terminal of terminals) {
      t.match(await terminal.ask(await walkIn(terminal, 100)), { result: 'success' });
    }
    const [plain, aborting, closing] = terminals as [
      (typeof terminals)[0],
      (typeof terminals)[0],
      (typeof terminals)[0],
    ];
    const requests = await Promise.all(
      terminals.flatMap((terminal) =>
        [200, 300].map(async (amount) => ({
          terminal,
          request: await walkIn(terminal, amount, testCards.slow),
        })),
      ),
    );
    for (const { terminal, request } of requests) await terminal.send(request);
    await eventually('the six charges under way', () => held.held() === 6);
    const abortedRequest = requests.find(({ terminal }) => terminal === aborting)!.request;
    t.match(
      await aborting.ask({
        type: 'terminal.abort_requested',
        requestId: randomUUID(),
        ofRequestId: abortedRequest.requestId,
      }),
      { result: 'success' },
    );
    const closed = await closing.ask({
      type: 'terminal.reconciliation_requested',
      requestId: randomUUID(),
      action: 'close',
    });
    t.match(closed.period?.totals, [{ approved: { count: 1, amountMinor: 100 } }]);

    const before = { ...payments.deps.walkIns.record.stats };
    // Released at once: the six outcomes are submitted in the same turn of the event loop.
    held.release();
    const answers = await Promise.all(
      requests.map(({ terminal, request }) => terminal.answerTo(request.requestId)),
    );
    t.same(
      {
        batches: payments.deps.walkIns.record.stats.batches - before.batches,
        items: payments.deps.walkIns.record.stats.items - before.items,
      },
      { batches: 1, items: 6 },
      'one statement for the six outcomes',
    );
    t.same(
      answers.map((answer) => [answer.result, answer.errorCondition ?? null, answer.amountMinor]),
      [
        ['success', null, 200],
        ['success', null, 300],
        ['failure', 'aborted', 200],
        ['success', null, 300],
        ['success', null, 200],
        ['success', null, 300],
      ],
    );
    for (const { terminal, request } of requests) {
      const heard = terminal.answers.filter((answer) => answer.requestId === request.requestId);
      t.equal(heard.length, 1, `${request.requestId}: answered once`);
    }
    const transactions = await payments
      .db('terminal_transactions')
      .whereIn(
        'terminal_id',
        terminals.map((terminal) => terminal.id),
      )
      .orderBy('at');
    const of = (terminal: (typeof terminals)[0]) =>
      transactions
        .filter((row) => row.terminal_id === terminal.id)
        .map((row) => Number(row.amount_minor))
        // The two outcomes of one batch have no order between them.
        .sort((a, b) => a - b);
    t.same(of(plain), [100, 200, 300], 'recorded in the period they started in');
    t.same(of(aborting), [100, 300], 'the aborted payment is in no total');
    const closingRows = transactions.filter((row) => row.terminal_id === closing.id);
    t.equal(closingRows.length, 3);
    t.equal(
      new Set(closingRows.slice(1).map((row) => row.period_id)).size,
      1,
      'both in the period opened when the first closed',
    );
    t.not(closingRows[1]!.period_id, closingRows[0]!.period_id);
    t.match(
      await closing.ask({
        type: 'terminal.reconciliation_requested',
        requestId: randomUUID(),
        action: 'totals',
        periodId: closed.period!.periodId,
      }),
      { period: { totals: closed.period!.totals } },
      'the closed period unchanged',
    );
  },
);

t.test('walk-in payments started in one statement: each row as if alone', async (t) => {
  const { broker, payments } = await setUpTerminals(t);
  const [opened, fresh] = await Promise.all([1, 2].map(() => connectTerminal(t, broker)));
  const paid = await walkIn(opened!, 100);
  t.match(await opened!.ask(paid), { result: 'success' });
  const period = await payments.db('terminal_periods').where({ terminal_id: opened!.id }).first();
  const start = (terminalId: string, requestId: string) => {
    const claimId = randomUUID();
    const payment = {
      id: randomUUID(),
      orderId: null,
      requestId: `terminal-${claimId}`,
      userId: null,
      terminalId,
      amountMinor: 500,
      currency: 'EUR',
      cardBrand: 'visa',
      cardLast4: '4242',
      cardFingerprint: 'f'.repeat(64),
    };
    return {
      terminalId,
      requestId,
      claimId,
      digest: 'd',
      payment,
      event: paymentEvent('payment_started', payment, undefined),
    };
  };
  const starts = [
    start(opened!.id, randomUUID()),
    start(opened!.id, paid.requestId),
    start(fresh!.id, randomUUID()),
  ];
  t.same(
    await startWalkIns(payments.db, starts),
    [{ openPeriodId: period.id }, undefined, { openPeriodId: null }],
    'its open period, the request id taken, no period yet',
  );
  const inserted = await payments
    .db('payments')
    .whereIn(
      'id',
      starts.map((row) => row.payment.id),
    )
    .pluck('id');
  t.same(inserted.sort(), [starts[0]!.payment.id, starts[2]!.payment.id].sort());
  const audited = await payments
    .db('payment_events')
    .whereIn(
      'payment_id',
      starts.map((row) => row.payment.id),
    )
    .pluck('type');
  t.same(audited, ['payment_started', 'payment_started'], 'an audit row for each, no more');
  const request = await payments
    .db('terminal_requests')
    .where({ terminal_id: opened!.id, request_id: paid.requestId })
    .first();
  t.equal(request.state, 'processed', 'the taken request untouched');
});

t.test(
  'a terminal that lost its connection mid-payment asks the status and gets the one answer',
  async (t) => {
    const held = heldProcessor();
    const { broker, payments } = await setUpTerminals(t, {}, held.processor);
    const terminal = await connectTerminal(t, broker);
    const slow = await walkIn(terminal, 3_000, testCards.slow);
    await terminal.send(slow);
    await eventually('the charge is under way', () => held.held() === 1);
    await terminal.client.endAsync(true);
    held.release();
    await eventually('the payment recorded', () =>
      payments
        .db('terminal_requests')
        .where({ request_id: slow.requestId, state: 'processed' })
        .first(),
    );
    await terminal.reconnect();
    const status = await terminal.ask({
      type: 'terminal.status_requested',
      requestId: randomUUID(),
      ofRequestId: slow.requestId,
    });
    t.match(status, {
      state: 'processed',
      original: { requestId: slow.requestId, result: 'success' },
    });
    t.equal((await payments.db('payments').where({ terminal_id: terminal.id })).length, 1);
  },
);

t.test(
  'reversals: full or partial, never more than captured, only of the terminal’s own',
  async (t) => {
    const { broker, payments } = await setUpTerminals(t);
    const terminal = await connectTerminal(t, broker);
    const other = await connectTerminal(t, broker);
    const reverse = (transactionId: string, amountMinor?: number, on = terminal) =>
      on.ask({
        type: 'terminal.reversal_requested',
        requestId: randomUUID(),
        transactionId,
        ...(amountMinor ? { amountMinor } : {}),
      });

    const full = await terminal.ask(await walkIn(terminal, 1_000));
    const reversed = await reverse(full.transactionId!);
    t.match(reversed, {
      request: 'reversal',
      result: 'success',
      reversedTransactionId: full.transactionId,
      transactionId: /^sbx_re_/,
      amountMinor: 1_000,
      paymentId: full.paymentId,
    });
    t.match(await payments.db('payments').where({ id: full.paymentId }).first(), {
      status: 'refunded',
      refunded_minor: 1_000,
    });
    t.match(await reverse(full.transactionId!), {
      result: 'failure',
      errorCondition: 'reversal_exceeds_captured',
    });

    const partial = await terminal.ask(await walkIn(terminal, 1_000));
    t.match(await reverse(partial.transactionId!, 400), { result: 'success', amountMinor: 400 });
    t.match(await reverse(partial.transactionId!, 700), {
      result: 'failure',
      errorCondition: 'reversal_exceeds_captured',
    });
    t.match(await reverse(partial.transactionId!), { result: 'success', amountMinor: 600 });

    // Another terminal's transaction, or none: unknown, and nothing changes.
    const theirs = await other.ask(await walkIn(other, 500));
    t.match(await reverse(theirs.transactionId!), {
      result: 'failure',
      errorCondition: 'unknown_transaction',
    });
    t.match(await reverse('sbx_ch_nothing'), {
      result: 'failure',
      errorCondition: 'unknown_transaction',
    });
    t.match(await payments.db('payments').where({ id: theirs.paymentId }).first(), {
      status: 'succeeded',
      refunded_minor: 0,
    });

    // The reversal of an order's payment reaches orders as a refund of the order.
    const { owed, results } = await publishIntent(t, broker, payments.db, {
      resultsAs: 'orders',
      payCode: 'REVERSE1',
    });
    const paid = await terminal.ask({
      type: 'terminal.order_payment_requested',
      requestId: randomUUID(),
      payCode: 'REVERSE1',
      card: await terminal.card(),
    });
    t.match(await reverse(paid.transactionId!), { result: 'success', orderId: owed.orderId });
    await eventually('orders hears of the refund', () =>
      results.messages.some((line) => JSON.parse(line).type === 'payment.refunded'),
    );
  },
);

t.test(
  'reconciliation: totals equal the sum of the transactions, by currency and period',
  async (t) => {
    const { broker, payments } = await setUpTerminals(t, {
      PAYMENTS_TERMINAL_CURRENCIES: 'EUR,USD',
    });
    const terminal = await connectTerminal(t, broker);
    const transactions = await mosquittoSubscribe(
      t,
      broker,
      'users',
      'payments/terminal-transactions',
    );
    const answers: TerminalResult[] = [];
    for (const [amount, number, currency] of [
      [1_000, testCards.approved, 'EUR'],
      [2_500, testCards.approved, 'EUR'],
      [700, testCards.declined, 'EUR'],
      [4_000, testCards.mastercard, 'USD'],
    ] as const) {
      answers.push(await terminal.ask(await walkIn(terminal, amount, number, currency)));
    }
    await terminal.ask({
      type: 'terminal.reversal_requested',
      requestId: randomUUID(),
      transactionId: answers[1]!.transactionId!,
      amountMinor: 500,
    });

    const totals = await terminal.ask({
      type: 'terminal.reconciliation_requested',
      requestId: randomUUID(),
      action: 'totals',
    });
    const expected = [
      {
        currency: 'EUR',
        approved: { count: 2, amountMinor: 3_500 },
        declined: { count: 1, amountMinor: 700 },
        reversed: { count: 1, amountMinor: 500 },
      },
      {
        currency: 'USD',
        approved: { count: 1, amountMinor: 4_000 },
        declined: { count: 0, amountMinor: 0 },
        reversed: { count: 0, amountMinor: 0 },
      },
    ];
    t.strictSame(totals.period?.totals, expected);
    t.notOk(totals.period?.closedAt, 'the open period');

    // What users heard adds up to the same totals.
    const heard = await eventually('five transactions announced', () =>
      transactions.messages.length === 5
        ? transactions.messages.map((line) => JSON.parse(line))
        : undefined,
    );
    const sum = (currency: string, outcome: string) =>
      heard
        .filter((event) => event.currency === currency && event.outcome === outcome)
        .reduce((total, event) => total + event.amountMinor, 0);
    t.equal(sum('EUR', 'approved'), 3_500);
    t.equal(sum('EUR', 'reversed'), 500);
    t.equal(
      (await payments.db('terminal_transactions').where({ terminal_id: terminal.id })).length,
      5,
      'five kept in the period',
    );
    t.ok(
      heard.every(
        (event) => event.terminalId === terminal.id && event.periodId === totals.period?.periodId,
      ),
    );

    const closeRequest = {
      type: 'terminal.reconciliation_requested' as const,
      requestId: randomUUID(),
      action: 'close' as const,
    };
    const closed = await terminal.ask(closeRequest);
    t.equal(closed.period?.periodId, totals.period?.periodId);
    t.ok(closed.period?.closedAt, 'closed');
    t.strictSame(closed.period?.totals, expected);
    t.equal((await terminal.ask(closeRequest)).id, closed.id, 'closing again is the first answer');

    const next = await terminal.ask({ ...closeRequest, requestId: randomUUID(), action: 'totals' });
    t.not(next.period?.periodId, closed.period?.periodId, 'a new period is open');
    t.strictSame(next.period?.totals, []);
    await terminal.ask(await walkIn(terminal, 300));
    const earlier = await terminal.ask({
      type: 'terminal.reconciliation_requested',
      requestId: randomUUID(),
      action: 'totals',
      periodId: closed.period!.periodId,
    });
    t.strictSame(earlier.period?.totals, expected, 'a closed period does not change');
    t.strictSame(earlier.period, closed.period, 'a closed period reads as it closed');
    t.match(
      await terminal.ask({
        type: 'terminal.reconciliation_requested',
        requestId: randomUUID(),
        action: 'totals',
        periodId: randomUUID(),
      }),
      { result: 'failure', errorCondition: 'unknown_period' },
    );
  },
);

t.test(
  'bad input from a terminal: refused with a stable condition, or dropped by the broker',
  async (t) => {
    const { broker, payments } = await setUpTerminals(t);
    const terminal = await connectTerminal(t, broker);
    const other = await connectTerminal(t, broker);

    t.match(await terminal.ask(await walkIn(terminal, 1_000, testCards.approved, 'GBP')), {
      result: 'failure',
      errorCondition: 'unsupported_currency',
    });
    t.match(await terminal.ask(await walkIn(terminal, 100_000_000_000)), {
      result: 'failure',
      errorCondition: 'amount_too_large',
    });
    t.match(await terminal.ask(await walkIn(terminal, 1)), {
      result: 'failure',
      errorCondition: 'amount_too_small',
    });
    t.match(
      await terminal.ask({
        ...(await walkIn(terminal)),
        card: await encryptCard(card(), { keys: [publicOf(await generateCardKey())] }),
      }),
      { result: 'failure', errorCondition: 'unknown_key' },
    );
    const real = await terminal.card();
    const [header, key, iv, , tag] = real.split('.');
    t.match(
      await terminal.ask({
        ...(await walkIn(terminal)),
        card: [header, key, iv, 'AAAA', tag].join('.'),
      }),
      { result: 'failure', errorCondition: 'unreadable_card' },
    );

    // What the contract refuses never reaches payments: the broker drops it, the terminal stays
    // connected, and a status query for its request id says it was never received.
    const dropped = randomUUID();
    for (const payload of [
      'not json',
      JSON.stringify({ ...(await walkIn(terminal)), requestId: dropped, amountMinor: -5 }),
      JSON.stringify({ ...(await walkIn(terminal)), requestId: dropped, amountMinor: '5' }),
      JSON.stringify({ ...(await walkIn(terminal)), requestId: dropped, card: card() }),
      JSON.stringify({ ...(await walkIn(terminal)), requestId: dropped, note: 'x' }),
      JSON.stringify({ ...(await walkIn(terminal)), requestId: dropped, currency: 'eur' }),
      JSON.stringify({ ...(await walkIn(terminal)), requestId: `${dropped}\u0000` }),
      JSON.stringify({ ...(await walkIn(terminal)), requestId: 'x'.repeat(101) }),
      `{"type":"terminal.status_requested","requestId":"${dropped}","ofRequestId":"${'x'.repeat(70_000)}"}`,
    ]) {
      await terminal.send(payload);
    }
    t.match(
      await terminal.ask({
        type: 'terminal.status_requested',
        requestId: randomUUID(),
        ofRequestId: dropped,
      }),
      { state: 'not_found' },
    );
    t.notOk(
      terminal.answers.some((answer) => answer.requestId === dropped),
      'no answer to any',
    );

    // Another terminal's topic: the broker ends the connection; nothing reaches the other.
    const before = other.answers.length;
    const closed = new Promise<void>((resolve) => terminal.client.once('close', () => resolve()));
    terminal.client.publish(
      `terminals/${other.id}/requests`,
      JSON.stringify(await walkIn(terminal)),
      {
        qos: 1,
      },
    );
    await closed;
    t.equal(other.answers.length, before);
    t.equal(
      (await payments.db('payments').where({ terminal_id: other.id })).length,
      0,
      'nothing was charged for the other terminal',
    );
  },
);
