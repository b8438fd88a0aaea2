import t from 'tap';
import {
  cardFingerprint,
  createSandboxProcessor,
  detectBrand,
  passesLuhn,
  sandboxTestCards,
  type SandboxOptions,
} from '../src/app.js';
import { card, fingerprintKey, testCards } from './helpers.js';

const today = new Date('2027-03-15T12:00:00Z');

function sandbox(overrides: Partial<SandboxOptions> = {}) {
  return createSandboxProcessor({
    now: () => today,
    minAmountMinor: 50,
    maxAmountMinor: 1_000_000,
    slowCardDelayMs: 0,
    ...overrides,
  });
}

const charge = (number: string, overrides: Parameters<typeof card>[1] = {}, amountMinor = 2599) =>
  sandbox().charge({
    paymentId: '7b1f3c55-9a84-4c1e-9f77-2f1b4b8f0a11',
    amountMinor,
    currency: 'EUR',
    card: card(number, { expMonth: 12, expYear: 2029, ...overrides }),
  });

t.test('the documented test cards answer as in Stripe’s sandbox', async (t) => {
  const answers: Record<string, unknown> = {};
  for (const number of Object.keys(sandboxTestCards)) {
    const outcome = await charge(number);
    answers[number] = outcome.approved ? 'approved' : outcome.declineCode;
  }
  t.same(answers, {
    '4242424242424242': 'approved',
    '5555555555554444': 'approved',
    '378282246310005': 'approved',
    '4000000000000002': 'card_declined',
    '4000000000009995': 'insufficient_funds',
    '4000000000000069': 'expired_card',
    '4000000000000127': 'incorrect_cvc',
    '4000000000000119': 'processing_error',
    '4000000000009987': 'lost_card',
    '4000000000009979': 'stolen_card',
    '4000000000007775': 'approved',
  });
  const approved = await charge(testCards.approved);
  t.match(approved, { approved: true, transactionId: /^sbx_ch_[0-9a-f]{24}$/ });
  t.match(
    await sandbox().refund({ refundId: 'r', transactionId: 'x', amountMinor: 1, currency: 'EUR' }),
    {
      refunded: true,
      transactionId: /^sbx_re_/,
    },
  );
});

t.test(
  'the checks any processor makes: Luhn, expiry against its clock, CVC length, amount limits',
  async (t) => {
    const declineOf = async (...args: Parameters<typeof charge>) => {
      const outcome = await charge(...args);
      return outcome.approved ? 'approved' : outcome.declineCode;
    };
    t.equal(await declineOf('4242424242424241'), 'invalid_number', 'Luhn fails');
    t.equal(await declineOf('9242424242424242'), 'invalid_number', 'no brand has it');
    t.equal(await declineOf('42424242424242'), 'invalid_number', 'a length Visa never issues');
    t.equal(
      await declineOf(testCards.approved, { expMonth: 2, expYear: 2027 }),
      'expired_card',
      'last month',
    );
    t.equal(
      await declineOf(testCards.approved, { expMonth: 3, expYear: 2027 }),
      'approved',
      'valid through this month',
    );
    t.equal(
      await declineOf(testCards.approved, { cvc: '1234' }),
      'invalid_cvc',
      'four digits on a Visa',
    );
    t.equal(await declineOf(testCards.amex, { cvc: '123' }), 'invalid_cvc', 'three on an Amex');
    t.equal(await declineOf(testCards.amex, { cvc: '1234' }), 'approved', 'four on an Amex');
    t.equal(await declineOf(testCards.approved, {}, 49), 'amount_too_small');
    t.equal(await declineOf(testCards.approved, {}, 50), 'approved');
    t.equal(await declineOf(testCards.approved, {}, 1_000_000), 'approved');
    t.equal(await declineOf(testCards.approved, {}, 1_000_001), 'amount_too_large');
    // Checks come before the test card's own answer, as an issuer never sees a malformed card.
    t.equal(await declineOf(testCards.declined, { expYear: 2020 }), 'expired_card');
    // Another clock: the same card expired.
    const later = sandbox({ now: () => new Date('2030-01-01T00:00:00Z') });
    const outcome = await later.charge({
      paymentId: 'p',
      amountMinor: 100,
      currency: 'EUR',
      card: card(testCards.approved, { expMonth: 12, expYear: 2029 }),
    });
    t.same(outcome, { approved: false, declineCode: 'expired_card' });
  },
);

t.test('the slow card answers only when its wait is over', async (t) => {
  let release!: () => void;
  let waitedMs: number | undefined;
  const processor = sandbox({
    slowCardDelayMs: 4321,
    wait: (ms) =>
      new Promise<void>((resolve) => {
        waitedMs = ms;
        release = resolve;
      }),
  });
  let settled = false;
  const pending = processor
    .charge({ paymentId: 'p', amountMinor: 100, currency: 'EUR', card: card(testCards.slow) })
    .then((outcome) => {
      settled = true;
      return outcome;
    });
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(waitedMs, 4321);
  t.notOk(settled, 'still waiting');
  release();
  t.match(await pending, { approved: true });
});

t.test('a refund is made once per refund id, after its delay', async (t) => {
  let release!: () => void;
  let waitedMs: number | undefined;
  const processor = sandbox({
    refundDelayMs: 900,
    wait: (ms) =>
      new Promise<void>((resolve) => {
        waitedMs = ms;
        release = resolve;
      }),
  });
  const request = { refundId: 'r-1', transactionId: 'sbx_ch_1', amountMinor: 100, currency: 'EUR' };
  const first = processor.refund(request);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(waitedMs, 900, 'it waits');
  release();
  const done = await first;
  t.match(done, { refunded: true, transactionId: /^sbx_re_/ });
  t.same(await processor.refund(request), done, 'asked again under its id: the same refund');
  const other = await sandbox().refund({ ...request, refundId: 'r-2' });
  t.not(other.refunded && other.transactionId, done.refunded && done.transactionId);
});

t.test('brands by prefix, Luhn, and a keyed fingerprint', async (t) => {
  const brands = Object.fromEntries(
    [
      '4242424242424242',
      '5555555555554444',
      '2223003122003222',
      '378282246310005',
      '6011111111111117',
      '3056930009020004',
      '3566002020360505',
      '6200000000000005',
      '9999999999999995',
    ].map((number) => [number, detectBrand(number).brand]),
  );
  t.same(brands, {
    '4242424242424242': 'visa',
    '5555555555554444': 'mastercard',
    '2223003122003222': 'mastercard',
    '378282246310005': 'amex',
    '6011111111111117': 'discover',
    '3056930009020004': 'diners',
    '3566002020360505': 'jcb',
    '6200000000000005': 'unionpay',
    '9999999999999995': 'unknown',
  });
  t.ok(passesLuhn('4242424242424242'));
  t.notOk(passesLuhn('4242424242424243'));
  t.notOk(passesLuhn('42a2'));
  const print = cardFingerprint(testCards.approved, fingerprintKey);
  t.match(print, /^[0-9a-f]{64}$/);
  t.equal(
    cardFingerprint(testCards.approved, fingerprintKey),
    print,
    'the same card, the same print',
  );
  t.not(
    cardFingerprint(testCards.approved, `${fingerprintKey}x`),
    print,
    'another key, another print',
  );
  t.not(cardFingerprint(testCards.mastercard, fingerprintKey), print);
});
