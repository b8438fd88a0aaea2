import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { PaymentResult } from '@mercado/common/contract';
import { createDb, type Knex } from '@mercado/common/db';
import { captureLogs, createTestDatabase } from '@mercado/common/testing';
import { createMetrics } from '@mercado/common/metrics';
import {
  eventually,
  everyRow,
  mosquittoPublish,
  publishIntent,
  paymentsEnv,
  startPayments,
  startTestBroker,
  testCards,
  type TestBroker,
} from './helpers.js';
import { connectTerminal } from './terminal-helpers.js';

/** The built entry point, as an operator starts it (the test runner builds before it tests). */
const builtMain = fileURLToPath(new URL('../dist/main.js', import.meta.url));

interface TestContext {
  teardown(fn: () => unknown): void;
}

/** payments' main as a child process, its JSON log lines parsed as they come. */
function runPayments(t: TestContext, env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [builtMain], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let text = '';
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    pending += chunk.toString();
    const complete = pending.split('\n');
    pending = complete.pop()!;
    for (const line of complete) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return exited;
  });
  return {
    child,
    lines,
    text: () => text,
    exited,
    logged: (message: string) => lines.filter((line) => line.msg === message).length,
  };
}

/**
 * A TCP relay between payments and the broker whose client → broker direction can be held: what
 * payments sends (its PUBACKs, its results) then goes nowhere, while what the broker sends still
 * reaches it. That is a process that charged and could not yet publish, held in that state for as
 * long as the test needs.
 */
async function startHoldingProxy(t: TestContext, brokerPort: number) {
  let holding = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer(function relay(client) {
    const upstream = net.connect(brokerPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      if (!holding) upstream.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  };
  t.teardown(close);
  return {
    url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    hold: () => (holding = true),
    close,
  };
}

t.test('the service with bad configuration stops with one line and exit code 2', async (t) => {
  const payments = runPayments(t, {});
  t.equal(await payments.exited, 2);
  const lines = payments
    .text()
    .trim()
    .split('\n')
    .filter((line) => !line.startsWith('('));
  t.equal(lines.length, 1, payments.text());
  t.match(
    lines[0],
    /^invalid configuration: .*DATABASE_URL is required.*PAYMENTS_CARD_KEYS is required.*CARD_FINGERPRINT_KEY is required/,
  );
});

/**
 * The broker, payments' database and a first payments process on them that recovers abandoned
 * work after a second (`firstEnv`, given the broker, keeps its work under way), subscribed; and a
 * connection to the database that outlives the processes. `env` starts the process after it.
 */
async function startRecoverable(
  t: TestContext,
  firstEnv: (broker: TestBroker) => Promise<Record<string, string>>,
) {
  const broker = await startTestBroker(t);
  const databaseUrl = await createTestDatabase(t, 'payments');
  const env = {
    ...(await paymentsEnv()),
    DATABASE_URL: databaseUrl,
    MQTT_URL: broker.url,
    LOG_LEVEL: 'info',
    PAYMENTS_ABANDONED_AFTER_MS: '1000',
    PAYMENTS_RECOVERY_INTERVAL_MS: '200',
  };
  const first = runPayments(t, { ...env, ...(await firstEnv(broker)) });
  await eventually(
    'the first process subscribed',
    () => first.logged('mqtt consumer subscribed') === 5,
  );
  const db: Knex = createDb({
    url: databaseUrl,
    log: captureLogs().log,
    metrics: createMetrics('test'),
  });
  t.teardown(() => db.destroy());
  return { broker, env, first, db };
}

t.test(
  'payments killed after charging but before publishing: after a restart the result goes out, once',
  async (t) => {
    let proxy!: Awaited<ReturnType<typeof startHoldingProxy>>;
    const { broker, env, first, db } = await startRecoverable(t, async (broker) => {
      proxy = await startHoldingProxy(t, broker.port);
      // Its relay gives up on the held publish soon, and tries again: still nothing gets through.
      return { MQTT_URL: proxy.url, OUTBOX_PUBLISH_TIMEOUT_MS: '500' };
    });
    const { owed, results } = await publishIntent(t, broker, db, { resultsAs: 'orders' });

    // From here the first process hears the broker but cannot answer it.
    proxy.hold();
    const encrypter = await startPayments(t);
    const request = await encrypter.request(owed.orderId, owed.userId, testCards.approved);
    await mosquittoPublish(broker, 'gateway', 'payments/requests', JSON.stringify(request));
    const charged = await eventually('the payment charged and its result queued', async () => {
      const payment = await db('payments').where({ order_id: owed.orderId }).first();
      const unsent = await db('outbox').whereNull('sent_at');
      return payment?.status === 'succeeded' && unsent.length === 1 && payment;
    });
    first.child.kill('SIGKILL');
    await first.exited;
    await proxy.close();
    t.same(results.messages, [], 'nothing reached the broker');

    const second = runPayments(t, env);
    const [line] = await eventually(
      'the result, published by the restarted process',
      () => results.messages.length > 0 && results.messages,
    );
    await eventually(
      'the outbox row marked sent',
      async () => (await db('outbox').whereNull('sent_at')).length === 0,
    );
    const result = JSON.parse(line!) as PaymentResult;
    t.same(result, charged.result, 'the result stored with the charge');
    t.equal(result.type, 'payment.approved');
    // The broker hands the request the killed process never acknowledged to the new one, which
    // answers the repeat with the stored result: the same event, skipped while still queued, sent
    // again if the relay was quicker (orders deduplicates by its id). One result, never another.
    t.same(new Set(results.messages), new Set([line]), 'one result event');
    t.equal(second.logged('payment processed'), 0, 'not charged again');
    t.equal((await db('payments').count('* as n').first())!.n, 1, 'one payment');
    // Neither process wrote the card anywhere: its logs, the database.
    const everything = [first.text(), second.text(), ...(await everyRow(db))].join('\n');
    for (const form of [testCards.approved, Buffer.from(testCards.approved).toString('base64')]) {
      t.notOk(everything.includes(form), `no ${form}`);
    }
  },
);

t.test(
  'payments killed mid-way through a terminal’s payment: after a restart it is answered once',
  async (t) => {
    // The slow card keeps the charge in flight until the process is killed.
    const { broker, env, first, db } = await startRecoverable(t, async () => ({
      PROCESSOR_SLOW_CARD_DELAY_MS: '120000',
    }));
    const terminal = await connectTerminal(t, broker);
    const request = {
      type: 'terminal.payment_requested' as const,
      requestId: 'till-000042',
      amountMinor: 1_500,
      currency: 'EUR',
      card: await terminal.card(testCards.slow),
    };
    await terminal.send(request);
    await eventually('the charge under way', () =>
      db('payments').where({ terminal_id: terminal.id, status: 'processing' }).first(),
    );
    first.child.kill('SIGKILL');
    await first.exited;

    // Sent again meanwhile, as a terminal's blind retry would: kept for the next process or not,
    // it never makes a second charge.
    await terminal.send(request);
    const second = runPayments(t, env);
    const answer = await terminal.answerTo(request.requestId);
    t.match(answer, { result: 'failure', errorCondition: 'processing_error', amountMinor: 1_500 });
    const status = await terminal.ask({
      type: 'terminal.status_requested',
      requestId: 'till-000043',
      ofRequestId: request.requestId,
    });
    t.match(status, { state: 'processed', original: { id: answer.id } });
    t.equal((await terminal.ask(request)).id, answer.id, 'sent again: the one answer');
    t.ok(
      terminal.answers
        .filter((heard) => heard.requestId === request.requestId)
        .every((heard) => heard.id === answer.id),
      'never another answer',
    );
    t.equal((await db('payments').where({ terminal_id: terminal.id })).length, 1, 'one payment');
    t.equal(second.logged('terminal payment processed'), 1, 'settled once, by the recovery');
  },
);

t.test(
  'payments killed mid-way through a reversal and an order’s refund: after a restart each is settled once',
  async (t) => {
    // The first process's refunds wait at the processor until it is killed.
    const { broker, env, first, db } = await startRecoverable(t, async () => ({
      PROCESSOR_REFUND_DELAY_MS: '120000',
    }));

    const terminal = await connectTerminal(t, broker);
    const sale = await terminal.ask({
      type: 'terminal.payment_requested',
      requestId: 'till-000100',
      amountMinor: 1_500,
      currency: 'EUR',
      card: await terminal.card(),
    });
    t.match(sale, { result: 'success', transactionId: /^sbx_ch_/ });
    const reversal = {
      type: 'terminal.reversal_requested' as const,
      requestId: 'till-000101',
      transactionId: sale.transactionId!,
      amountMinor: 600,
    };
    await terminal.send(reversal);

    const { owed, results } = await publishIntent(t, broker, db, { resultsAs: 'orders' });
    const encrypter = await startPayments(t);
    const request = await encrypter.request(owed.orderId, owed.userId, testCards.approved);
    await mosquittoPublish(broker, 'gateway', 'payments/requests', JSON.stringify(request));
    const paid = await eventually('the order paid', () =>
      db('payments').where({ order_id: owed.orderId, status: 'succeeded' }).first(),
    );
    const refundId = 'refund-after-restart';
    await mosquittoPublish(
      broker,
      'orders',
      'payments/refunds',
      JSON.stringify({
        type: 'refund.requested',
        refundId,
        orderId: owed.orderId,
        paymentId: paid.id,
        amountMinor: 1_000,
        reason: 'customer_request',
      }),
    );
    await eventually('both refunds under way', async () => {
      const pending = await db('refunds').where({ status: 'pending' });
      return pending.length === 2;
    });
    first.child.kill('SIGKILL');
    await first.exited;
    t.notOk(
      terminal.answers.some((heard) => heard.requestId === reversal.requestId),
      'the reversal had no answer',
    );

    const second = runPayments(t, env);
    const answer = await terminal.answerTo(reversal.requestId);
    t.match(answer, {
      request: 'reversal',
      result: 'success',
      amountMinor: 600,
      reversedTransactionId: sale.transactionId,
      transactionId: /^sbx_re_/,
    });
    const refunded = await eventually('the order’s refund published', () =>
      results.messages
        .map((line) => JSON.parse(line) as PaymentResult)
        .find((result) => result.type === 'payment.refunded'),
    );
    t.match(refunded, { requestId: refundId, orderId: owed.orderId, amountMinor: 1_000 });

    const status = await terminal.ask({
      type: 'terminal.status_requested',
      requestId: 'till-000102',
      ofRequestId: reversal.requestId,
    });
    t.match(status, { state: 'processed', original: { id: answer.id } });
    const totals = await terminal.ask({
      type: 'terminal.reconciliation_requested',
      requestId: 'till-000103',
      action: 'totals',
    });
    t.match(totals.period?.totals, [
      {
        currency: 'EUR',
        approved: { count: 1, amountMinor: 1_500 },
        reversed: { count: 1, amountMinor: 600 },
      },
    ]);
    t.same(
      (await db('refunds').orderBy('amount_minor')).map((row) => [row.amount_minor, row.status]),
      [
        [600, 'succeeded'],
        [1_000, 'succeeded'],
      ],
      'each refund once',
    );
    t.same(
      (await db('payments').orderBy('amount_minor')).map((row) => [
        row.amount_minor,
        row.refunded_minor,
      ]),
      [
        [1_500, 600],
        [paid.amount_minor, 1_000],
      ],
      'what was given back, once',
    );
    t.ok(second.logged('abandoned refunds settled') >= 1, 'by the recovery');
  },
);
