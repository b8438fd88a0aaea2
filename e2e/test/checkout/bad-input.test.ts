import { randomUUID } from 'node:crypto';
import t from 'tap';
import { eventually, expectProblemAnswer } from '@mercado/common/testing';
import { encryptCard } from '@mercado/common/contract';
import { card, testCards } from '@mercado/payments/testing';
import { startCheckoutSystem, type CheckoutSystem } from './system.js';

/**
 * Bad input to the payment of an order (issue 11, "The failure modes the anchors have"), through
 * the gateway, with real orders, a real payments service and real orders to pay: someone else's
 * order and an unknown one are 404 (payments answers both alike, so no order id can be probed), a
 * paid or cancelled one 409, an amount in the request is ignored (the intent's is charged), and a
 * card of the wrong shape is 400 with a stable code before anything leaves the gateway; cards the
 * processor checks (Luhn, expiry, CVC length) are declined with theirs. Nothing here charges.
 */

/** Payments' rows: what a refused request must leave as it was. */
function charges(system: CheckoutSystem) {
  return system.db.payments('payments').orderBy('id').select('id', 'order_id', 'status');
}

t.test('whose order, which order, in what state', async (t) => {
  const system = await startCheckoutSystem(t);
  const [ana, ben] = [await system.register('Ana'), await system.register('Ben')];
  const lamp = await system.sell();
  const order = await system.placeOrder(ana, [{ productId: lamp.id, quantity: 1 }]);

  const other = await system.pay(ben, order.id, testCards.approved);
  t.match(other, { status: 404, body: { code: 'unknown_order', orderId: order.id } }, 'not Ben’s');
  const unknown = randomUUID();
  t.match(
    await system.pay(ana, unknown, testCards.approved),
    { status: 404, body: { code: 'unknown_order' } },
    'an order nobody has',
  );
  t.match(
    await system.pay(ana, 'not-an-order', testCards.approved),
    { status: 404, body: { code: 'not_found' } },
    'not an order id at all',
  );
  t.same(await charges(system), [], 'nothing charged so far');

  const paid = await system.pay(ana, order.id, testCards.approved);
  t.equal(paid.status, 200);
  t.match(
    await system.pay(ana, order.id, testCards.approved),
    { status: 409, body: { code: 'order_already_paid' } },
    'paid already (another Idempotency-Key)',
  );
  t.match(
    await system.pay(ben, order.id, testCards.approved),
    { status: 404, body: { code: 'unknown_order' } },
    'still not Ben’s once paid',
  );

  const second = await system.placeOrder(ana, [{ productId: lamp.id, quantity: 1 }]);
  t.equal((await system.api(ana, 'POST', `/api/orders/${second.id}/cancel`)).status, 200);
  await eventually('payments heard of the cancellation', () =>
    system.db
      .payments('intents')
      .where({ order_id: second.id })
      .whereNotNull('cancelled_reason')
      .first(),
  );
  t.match(
    await system.pay(ana, second.id, testCards.approved),
    { status: 409, body: { code: 'order_not_payable' } },
    'cancelled',
  );
  const rows = await charges(system);
  t.same(
    rows.map((row) => [row.order_id, row.status]),
    [[order.id, 'succeeded']],
    'one charge, for the order that was paid',
  );
  t.equal((await system.order(ana, second.id)).status, 'cancelled');
});

t.test('an amount in the request is ignored: the intent’s amount is charged', async (t) => {
  const system = await startCheckoutSystem(t);
  const ana = await system.register('Ana');
  const lamp = await system.sell({ priceMinor: 12_345 });
  const order = await system.placeOrder(ana, [{ productId: lamp.id, quantity: 2 }]);
  t.equal(order.totalMinor, 24_690);
  const paid = await system.pay(ana, order.id, testCards.approved, {
    body: { card: card(), amountMinor: 1, amount: '0.01', currency: 'USD' },
  });
  t.equal(paid.status, 200);
  t.match(paid.body, { amountMinor: 24_690, currency: 'EUR' });
  const [row] = await system.db.payments('payments').where({ order_id: order.id });
  t.match(row, { amount_minor: 24_690, currency: 'EUR', status: 'succeeded' }, 'charged in full');
  // The gateway answers as the result comes; orders applies the same result on its own.
  await system.settled(order.id, ['paid']);
  t.match(await system.order(ana, order.id), {
    status: 'paid',
    payments: [{ outcome: 'approved', amountMinor: 24_690 }],
  });
});

t.test('wrong card formats: 400 with stable codes, or declined by the processor', async (t) => {
  const system = await startCheckoutSystem(t);
  const ana = await system.register('Ana');
  const lamp = await system.sell();
  const order = await system.placeOrder(ana, [{ productId: lamp.id, quantity: 1 }]);
  const pay = (body: unknown, headers?: Record<string, string>) =>
    system.pay(ana, order.id, undefined, { body, ...(headers ? { headers } : {}) });

  // Refused by the gateway: the card's shape (the contract's cardSchema), before any encryption.
  const shapes: Array<[string, unknown, string[]]> = [
    ['letters in the number', { card: card('4242abcd42424242') }, ['body.card.number']],
    ['a number too short', { card: card('42424242424') }, ['body.card.number']],
    ['a number too long', { card: card('42424242424242424242') }, ['body.card.number']],
    ['spaces in the number', { card: card('4242 4242 4242 4242') }, ['body.card.number']],
    [
      'a number as a number',
      { card: { ...card(), number: 4242424242424242 } },
      ['body.card.number'],
    ],
    ['month 13', { card: card(undefined, { expMonth: 13 }) }, ['body.card.expMonth']],
    ['month 0', { card: card(undefined, { expMonth: 0 }) }, ['body.card.expMonth']],
    ['a year as text', { card: { ...card(), expYear: '2031' } }, ['body.card.expYear']],
    ['a CVC of 2 digits', { card: card(undefined, { cvc: '12' }) }, ['body.card.cvc']],
    ['a CVC of letters', { card: card(undefined, { cvc: 'abc' }) }, ['body.card.cvc']],
    ['a field too many', { card: { ...card(), pin: '1234' } }, ['body.card.pin']],
    ['no card', {}, ['body.card']],
    ['a card and an encrypted one', { card: card(), encryptedCard: 'a.b.c.d.e' }, ['body.card']],
    ['an encrypted card that is no JWE', { encryptedCard: 'not-a-jwe' }, ['body.encryptedCard']],
    ['an unknown field', { card: card(), tip: 100 }, ['body.tip']],
  ];
  for (const [name, body, paths] of shapes) {
    expectProblemAnswer(t, await pay(body), {
      name,
      status: 400,
      code: 'validation_failed',
      paths,
    });
  }
  expectProblemAnswer(t, await pay({ card: card() }, { 'idempotency-key': '' }), {
    name: 'no Idempotency-Key',
    status: 400,
    code: 'idempotency_key_required',
  });
  t.same(await charges(system), [], 'nothing reached payments');

  // Shaped like a JWE, which the gateway passes on untouched, but payments cannot read it.
  const noKey = await pay({ encryptedCard: 'eyJhbGciOiJub25lIn0.AAAA.AAAA.AAAA.AAAA' });
  t.match(noKey, { status: 400, body: { code: 'unknown_key' } }, 'for no key payments holds');
  const sealed = await encryptCard(card(), { keys: system.payments[0]!.deps.keyring.publicKeys });
  const parts = sealed.split('.');
  parts[3] = `${parts[3]!.startsWith('A') ? 'B' : 'A'}${parts[3]!.slice(1)}`;
  const tampered = await pay({ encryptedCard: parts.join('.') });
  t.match(tampered, { status: 400, body: { code: 'unreadable_card' } }, 'tampered with');

  // Well formed, refused by the processor's own checks: a decline with the reason, no charge.
  const declines: Array<[string, unknown, string]> = [
    ['a number failing Luhn', { card: card('4242424242424241') }, 'invalid_number'],
    ['an expired card', { card: card(undefined, { expMonth: 1, expYear: 2020 }) }, 'expired_card'],
    ['a 4-digit CVC on a visa', { card: card(undefined, { cvc: '1234' }) }, 'invalid_cvc'],
    ['a 3-digit CVC on an amex', { card: card(testCards.amex, { cvc: '123' }) }, 'invalid_cvc'],
  ];
  for (const [name, body, reason] of declines) {
    t.match(await pay(body), { status: 402, body: { code: 'payment_declined', reason } }, name);
  }
  const rows = await charges(system);
  t.same(
    [...new Set(rows.map((row) => row.status))],
    rows.length > 0 ? ['failed'] : [],
    'declined, never charged',
  );
  t.equal((await system.order(ana, order.id)).status, 'payment_failed');
  t.equal((await system.pay(ana, order.id, testCards.approved)).status, 200, 'a good card pays');
});
