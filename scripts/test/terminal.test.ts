import t from 'tap';
import { formatMinor, toMinorUnits } from '../src/terminal/amount.js';
import { testCard } from '../src/terminal/cards.js';
import { parseInvocation } from '../src/terminal/commands.js';
import { UsageError } from '../src/terminal/errors.js';
import { succeeded, summarize } from '../src/terminal/summary.js';

const env = { TERMINAL_ID: 'till-1', TERMINAL_SECRET: 'secret' };

t.test('amounts in major units become exact minor units, never rounded', async (t) => {
  t.equal(toMinorUnits('12.50', 'EUR'), 1_250);
  t.equal(toMinorUnits('19.99', 'eur'), 1_999, 'where 19.99 * 100 is not 1999 in floating point');
  t.equal(toMinorUnits('7', 'EUR'), 700);
  t.equal(toMinorUnits('0.5', 'EUR'), 50);
  t.equal(toMinorUnits('12.500', 'EUR'), 1_250, 'trailing zeros are no fraction of a cent');
  t.equal(toMinorUnits('1500', 'JPY'), 1_500, 'a yen has no minor unit');
  t.equal(toMinorUnits('1.234', 'KWD'), 1_234, 'a dinar has three decimals');
  t.equal(toMinorUnits('1000000000', 'EUR'), 100_000_000_000, 'the contract’s ceiling');
  for (const [amount, currency] of [
    ['12.505', 'EUR'],
    ['1.5', 'JPY'],
    ['-1', 'EUR'],
    ['+1', 'EUR'],
    ['1e3', 'EUR'],
    ['1,50', 'EUR'],
    ['12.', 'EUR'],
    ['.5', 'EUR'],
    ['0', 'EUR'],
    ['0.00', 'EUR'],
    ['1000000000.01', 'EUR'],
    ['', 'EUR'],
    ['1', 'EURO'],
  ]) {
    t.throws(() => toMinorUnits(amount!, currency!), UsageError, `${amount} ${currency} refused`);
  }
  t.equal(formatMinor(1_250, 'EUR'), '12.50 EUR');
  t.equal(formatMinor(5, 'EUR'), '0.05 EUR');
  t.equal(formatMinor(1_500, 'JPY'), '1500 JPY');
  t.equal(formatMinor(1_234, 'KWD'), '1.234 KWD');
});

t.test('the command line builds the contract’s requests, or says what is wrong', async (t) => {
  const pay = parseInvocation(['pay', '--amount', '12.50', '--request-id', 'till-1-1'], env);
  t.equal(pay.command.kind, 'request');
  if (pay.command.kind !== 'request') return;
  t.same(pay.command.build('jwe'), {
    type: 'terminal.payment_requested',
    requestId: 'till-1-1',
    amountMinor: 1_250,
    currency: 'EUR',
    card: 'jwe',
  });
  t.equal(pay.timeoutMs, 120_000, 'real terminals wait 120 s');
  t.equal(pay.url, 'mqtt://127.0.0.1:1883');
  const byCode = parseInvocation(['pay', '--code', 'k7qm-2xwp', '--timeout', '5'], {
    ...env,
    MQTT_URL: 'mqtt://broker:1883',
  });
  if (byCode.command.kind !== 'request') throw new Error('a request');
  t.match(byCode.command.build('jwe'), {
    type: 'terminal.order_payment_requested',
    payCode: 'k7qm-2xwp',
  });
  t.equal(byCode.timeoutMs, 5_000);
  t.equal(byCode.url, 'mqtt://broker:1883');
  const reverse = parseInvocation(['reverse', 'sbx_ch_1', '--amount', '2.50'], env);
  if (reverse.command.kind !== 'request') throw new Error('a request');
  t.match(reverse.command.build(''), {
    type: 'terminal.reversal_requested',
    transactionId: 'sbx_ch_1',
    amountMinor: 250,
  });
  const periodId = '0b7d5e2c-3f4a-4c1e-9d8b-6a5f4e3d2c1b';
  const earlier = parseInvocation(['totals', '--period', periodId], env);
  if (earlier.command.kind !== 'request') throw new Error('a request');
  t.match(earlier.command.build(''), {
    type: 'terminal.reconciliation_requested',
    action: 'totals',
    periodId,
  });
  t.equal(parseInvocation(['--help'], {}).command.kind, 'help', 'help needs no terminal');

  for (const argv of [
    ['pay'],
    ['pay', '--amount', '1', '--code', 'K7QM2XWP'],
    ['pay', '--code', 'K7QM2XWP', '--currency', 'EUR'],
    ['pay', '--amount', '1', '--period', 'x'],
    ['pay', '--amount', '1', '--card', '42'],
    ['status'],
    ['status', 'a', 'b'],
    ['abort', 'a', '--amount', '1'],
    ['close', 'now'],
    ['totals', '--period', 'yesterday'],
    ['pay', '--amount', '1', '--timeout', 'soon'],
    ['pay', '--amount', '1', '--request-id', 'with space'],
    ['pay', '--amout', '1'],
    ['refund'],
  ]) {
    t.throws(() => parseInvocation(argv, env), UsageError, argv.join(' '));
  }
  t.throws(() => parseInvocation(['close'], {}), /no terminal: give --id or set TERMINAL_ID/);
});

t.test('a test card has a future expiry and its brand’s CVC length', async (t) => {
  const now = new Date('2026-12-03T00:00:00Z');
  t.same(testCard('4242 4242 4242 4242', now), {
    number: '4242424242424242',
    expMonth: 12,
    expYear: 2031,
    cvc: '123',
  });
  t.equal(testCard('378282246310005', now).cvc, '1234', 'American Express');
});

t.test('the summary says what a cashier needs', async (t) => {
  const at = '2026-12-03T10:00:00.000Z';
  const base = { type: 'terminal.result' as const, id: 'x', requestId: 'r1', at };
  t.equal(
    summarize({
      ...base,
      request: 'payment',
      result: 'failure',
      errorCondition: 'insufficient_funds',
      amountMinor: 995,
      currency: 'EUR',
      cardBrand: 'visa',
      cardLast4: '9995',
    }),
    'declined: insufficient_funds (9.95 EUR, visa •••• 9995)',
  );
  t.equal(
    summarize({
      ...base,
      request: 'status',
      result: 'success',
      ofRequestId: 'r0',
      state: 'in_progress',
    }),
    'r0: in progress (its answer is on its way)',
  );
  const notFound = {
    ...base,
    request: 'status' as const,
    result: 'success' as const,
    ofRequestId: 'r0',
    state: 'not_found' as const,
  };
  t.equal(summarize(notFound), 'r0: not found (it never arrived; sending it again is safe)');
  t.ok(
    succeeded({
      request: { type: 'terminal.status_requested', requestId: 'r1', ofRequestId: 'r0' },
      answer: notFound,
    }),
    'a status query that found nothing succeeded itself: the command exits 0',
  );
  t.equal(
    summarize({ ...base, request: 'abort', result: 'failure', errorCondition: 'not_abortable' }),
    'refused: not_abortable',
  );
  t.equal(
    summarize({
      ...base,
      request: 'reconciliation',
      result: 'success',
      period: { periodId: 'p', openedAt: at, totals: [] },
    }),
    `period p (open since ${at}): nothing yet`,
  );
});
