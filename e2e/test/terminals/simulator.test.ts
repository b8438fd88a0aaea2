import t from 'tap';
import { eventually } from '@mercado/common/testing';
import { heldProcessor } from '@mercado/payments/testing';
import { runSimulator, startTerminalSystem, type TerminalSystem } from './till.js';

/**
 * `npm run terminal` (scripts/src/terminal.ts) as a shop's till runs it: a child process per
 * request against the whole system, its terminal registered through the gateway and verified by
 * the broker at the users service. Nothing here waits a fixed time: each step waits for a line
 * the simulator prints, a row in payments' database, or the process's end.
 *
 * Each run of the simulator loads it afresh (most of a second on a loaded machine), so each of its
 * commands and exit codes runs here once; what payments answers to each kind of request is
 * services/payments/test/terminals.test.ts's, how the command line reads its input and what the
 * summary line says scripts/test/terminal.test.ts's.
 */

t.setTimeout(600_000);

const slowCard = '4000000000007775';

/**
 * One system for both tests, started by the first and stopped when the file ends: each test has a
 * terminal of its own, and only the second pays with the slow card, which this processor holds.
 */
const held = heldProcessor();
let shared: Promise<TerminalSystem> | undefined;
const sharedSystem = () =>
  (shared ??= startTerminalSystem(t, { paymentsProcessor: held.processor }));

async function till(system: TerminalSystem) {
  const { id, secret } = await system.registerTerminal('Till');
  const env = { ...system.env, TERMINAL_ID: id, TERMINAL_SECRET: secret };
  const simulate = async (...args: string[]) => {
    const finished = await runSimulator(args, env).finished;
    const lines = finished.stdout.trim().split('\n').filter(Boolean);
    return { ...finished, lines, answer: lines.length === 1 ? JSON.parse(lines[0]!) : undefined };
  };
  return { id, env, simulate };
}

t.test('the simulator pays, is declined, asks a status and refuses bad input', async (t) => {
  const { id, env, simulate } = await till(await sharedSystem());

  const paid = await simulate('pay', '--amount', '12.50', '--currency', 'EUR');
  t.equal(paid.code, 0, 'an approval exits 0', { stderr: paid.stderr });
  t.equal(paid.lines.length, 1, 'one JSON line on stdout');
  t.match(paid.answer, {
    type: 'terminal.result',
    request: 'payment',
    result: 'success',
    transactionId: /^sbx_ch_/,
    amountMinor: 1_250,
    currency: 'EUR',
    cardBrand: 'visa',
    cardLast4: '4242',
  });
  t.match(
    paid.stderr,
    new RegExp(`^request ${paid.answer.requestId} \\(terminal.payment_requested\\)$`, 'm'),
  );
  t.match(paid.stderr, /^approved: 12\.50 EUR, visa •••• 4242, transaction sbx_ch_/m);

  // The card as a cashier types it, in groups.
  const declined = await simulate('pay', '--amount', '7', '--card', '4000 0000 0000 0002');
  t.equal(declined.code, 1, 'a decline exits 1');
  t.match(declined.answer, {
    result: 'failure',
    errorCondition: 'card_declined',
    amountMinor: 700,
  });
  t.match(declined.stderr, /^declined: card_declined \(7\.00 EUR, visa •••• 0002\)$/m);

  const known = await simulate('status', paid.answer.requestId);
  t.equal(known.code, 0);
  t.match(known.answer, { request: 'status', result: 'success', state: 'processed' });
  t.same(known.answer.original, paid.answer, 'the very first answer');
  t.match(
    known.stderr,
    new RegExp(`^${paid.answer.requestId}: processed — approved: 12\\.50 EUR`, 'm'),
  );

  const reversed = await simulate('reverse', paid.answer.transactionId, '--amount', '2.50');
  t.equal(reversed.code, 0, 'exits 0', { stderr: reversed.stderr });
  t.match(reversed.answer, {
    request: 'reversal',
    result: 'success',
    amountMinor: 250,
    reversedTransactionId: paid.answer.transactionId,
  });

  const totals = await simulate('totals');
  t.equal(totals.code, 0);
  t.same(totals.answer.period.totals, [
    {
      currency: 'EUR',
      approved: { count: 1, amountMinor: 1_250 },
      declined: { count: 1, amountMinor: 700 },
      reversed: { count: 1, amountMinor: 250 },
    },
  ]);
  const closed = await simulate('close');
  t.equal(closed.code, 0);
  t.equal(closed.answer.period.periodId, totals.answer.period.periodId, 'the period just read');
  t.ok(closed.answer.period.closedAt, 'closed');
  t.same(closed.answer.period.totals, totals.answer.period.totals, 'with the totals just read');

  // Bad input exits 2 before anything is sent; what each refusal says is scripts/test's business.
  const refused = await simulate('pay', '--amount', '12.505');
  t.equal(refused.code, 2, 'an amount finer than the currency: exit code 2');
  t.match(refused.stderr, /more decimals than EUR has \(2\)/, 'says why');
  t.equal(refused.stdout, '', 'no answer, nothing sent');

  const wrong = await runSimulator(['totals'], { ...env, TERMINAL_SECRET: 'not-the-secret' })
    .finished;
  t.equal(wrong.code, 3, 'a wrong secret exits 3');
  t.match(
    wrong.stderr,
    new RegExp(`the broker refused terminal ${id}: unknown terminal or wrong secret`),
  );
});

t.test(
  'a timeout ends in a status query, and a pay aborted from another shell says so',
  async (t) => {
    const system = await sharedSystem();
    const { id, env, simulate } = await till(system);
    const underWay = (requestId: string) =>
      eventually(`${requestId} under way at the processor`, async () => {
        const row = await system.db
          .payments('terminal_requests')
          .where({ terminal_id: id, request_id: requestId, state: 'in_progress' })
          .first();
        return row !== undefined && held.held() > 0;
      });

    // Held at the processor: no answer within the timeout, so the simulator asks (never resends).
    const waiting = runSimulator(
      ['pay', '--amount', '20', '--card', slowCard, '--timeout', '2'],
      env,
    );
    const [, requestId] = await waiting.stderrLine(/^request (\S+) /m);
    await waiting.stderrLine(/^no answer in 2 s: asking the status of /m);
    held.release();
    const paid = await waiting.finished;
    t.equal(paid.code, 0, 'exits 0', { stderr: paid.stderr });
    t.match(JSON.parse(paid.stdout), { requestId, result: 'success', amountMinor: 2_000 });
    t.notMatch(paid.stderr, /sending .* again/, 'the payment was not sent again');
    const rows = await system.db.payments('payments').where({ terminal_id: id });
    t.equal(rows.length, 1, 'one payment');

    // Another shell aborts it while it is under way: that shell takes the terminal's connection.
    const paying = runSimulator(['pay', '--amount', '30', '--card', slowCard], env);
    const [, slowId] = await paying.stderrLine(/^request (\S+) /m);
    await underWay(slowId!);
    const aborted = await simulate('abort', slowId!);
    t.equal(aborted.code, 0, 'exits 0', { stderr: aborted.stderr });
    t.match(aborted.answer, { request: 'abort', result: 'success', ofRequestId: slowId });
    held.release();
    const ended = await paying.finished;
    t.equal(ended.code, 1, 'the aborted pay exits 1', { stderr: ended.stderr });
    t.match(JSON.parse(ended.stdout), {
      requestId: slowId,
      request: 'payment',
      result: 'failure',
      errorCondition: 'aborted',
    });
    t.match(ended.stderr, /declined: aborted/);
  },
);
