import { randomUUID } from 'node:crypto';
import t from 'tap';
import { topics, type TerminalTransaction } from '@mercado/common/contract';
import { connectMqtt, type MqttClient } from '@mercado/common/mqtt';
import { eventually, testServiceMqttCredentials } from '@mercado/common/testing';
import { startTestBroker } from '@mercado/broker/testing';
import { signUpAdmin, startUsers, type UsersHarness } from './helpers.js';

interface Test {
  teardown(fn: () => unknown): void;
}

interface Setup {
  users: UsersHarness;
  admin: Awaited<ReturnType<typeof signUpAdmin>>;
  /** Publishes as the payments service does: QoS 1 on the contract's topic. */
  publish(event: TerminalTransaction): Promise<void>;
  /** The admin's list of terminals, by id. */
  listed(): Promise<Record<string, any>>;
}

/**
 * A users service on the real broker, its clock `now`, with terminals `till-1` and `kiosk-1`
 * registered, consuming payments' transactions; and a connection as payments.
 */
async function setUp(t: Test, now: () => Date, env: Record<string, string> = {}): Promise<Setup> {
  const broker = await startTestBroker(t);
  const users = await startUsers(t, { MQTT_URL: broker.url, ...env }, undefined, { now });
  const admin = await signUpAdmin(users);
  for (const id of ['till-1', 'kiosk-1']) {
    const created = await users.call('POST', '/api/terminals', {
      identity: admin,
      body: { id, name: id },
    });
    if (created.status !== 201) throw new Error(`registering ${id} gave ${created.status}`);
  }
  // A QoS 1 message for a share group with no member yet is for nobody.
  await broker.subscribed(
    users.mqtt!.options.clientId!,
    `$share/users/${topics.terminalTransactions.build()}`,
  );
  const payments: MqttClient = await connectMqtt(broker.url, {
    clientId: `payments-${randomUUID()}`,
    ...testServiceMqttCredentials('payments'),
    reconnectPeriod: 0,
  });
  t.teardown(() => payments.endAsync(true));
  return {
    users,
    admin,
    async publish(event) {
      await payments.publishAsync(topics.terminalTransactions.build(), JSON.stringify(event), {
        qos: 1,
      });
    },
    async listed() {
      const list = await users.call('GET', '/api/terminals', { identity: admin });
      if (list.status !== 200) throw new Error(`the list gave ${list.status}`);
      return Object.fromEntries(
        (list.body.items as Array<{ id: string }>).map((item) => [item.id, item]),
      );
    },
  };
}

/** A transaction as payments announces it: an approved EUR payment unless `fields` say more. */
function transaction(
  fields: Partial<TerminalTransaction> & Pick<TerminalTransaction, 'at'>,
): TerminalTransaction {
  return {
    type: 'terminal.transaction_recorded',
    id: randomUUID(),
    terminalId: 'till-1',
    kind: 'payment',
    outcome: 'approved',
    amountMinor: 1_000,
    currency: 'EUR',
    periodId: '6b0f6c43-2b6e-4f43-9a53-0b7d2c1e9a10',
    ...fields,
  };
}

/** What the list shows of a transaction: every field, null where the event had none. */
function shown(event: TerminalTransaction) {
  return {
    id: event.id,
    kind: event.kind,
    outcome: event.outcome,
    amountMinor: event.amountMinor,
    currency: event.currency,
    transactionId: event.transactionId ?? null,
    orderId: event.orderId ?? null,
    cardBrand: event.cardBrand ?? null,
    cardLast4: event.cardLast4 ?? null,
    reason: event.reason ?? null,
    at: new Date(event.at).toISOString(),
  };
}

async function keptCount(users: UsersHarness): Promise<number> {
  const [row] = await users.db('terminal_transactions').count<{ count: string }[]>('* as count');
  return Number(row!.count);
}

t.test(
  "the list shows each terminal's last five transactions, newest first, and today's totals by currency",
  async (t) => {
    const now = new Date('2025-06-15T12:00:00.000Z');
    const { users, admin, publish, listed } = await setUp(t, () => now);
    const at = (time: string) => `2025-06-15T${time}:00.000Z`;
    const oldest = transaction({ at: at('08:00'), amountMinor: 300, transactionId: 'tx-0' });
    const card = { cardBrand: 'visa', cardLast4: '4242' };
    const walkIn = transaction({ at: at('09:00'), transactionId: 'tx-1', ...card });
    const declined = transaction({
      at: at('09:30'),
      outcome: 'declined',
      amountMinor: 500,
      reason: 'card_declined',
      ...card,
    });
    const orderPayment = transaction({
      at: at('10:00'),
      amountMinor: 2_500,
      currency: 'USD',
      transactionId: 'tx-3',
      orderId: randomUUID(),
    });
    const reversal = transaction({
      at: at('10:30'),
      kind: 'reversal',
      outcome: 'reversed',
      amountMinor: 400,
      transactionId: 'tx-4',
      reason: 'customer_request',
    });
    const bigger = transaction({ at: at('11:00'), amountMinor: 2_000, transactionId: 'tx-5' });
    const newest = transaction({
      at: at('11:30'),
      amountMinor: 100,
      currency: 'USD',
      transactionId: 'tx-6',
    });
    // Kept, though no registered terminal is its: only live terminals are listed.
    const stranger = transaction({ at: at('11:45'), terminalId: 'ghost-1' });
    // Not in the order they happened: the list orders by `at`, not by arrival.
    for (const event of [orderPayment, oldest, walkIn, newest, declined, stranger, bigger]) {
      await publish(event);
    }
    await publish(reversal);
    await eventually('the eight events kept', async () => (await keptCount(users)) === 8);

    const terminals = await listed();
    t.same(
      terminals['till-1'].lastTransactions,
      [newest, bigger, reversal, orderPayment, declined].map(shown),
      'the five newest, newest first, every field shown',
    );
    t.same(
      terminals['till-1'].today,
      [
        {
          currency: 'EUR',
          approvedCount: 3,
          approvedMinor: 300 + 1_000 + 2_000,
          declinedCount: 1,
          reversedCount: 1,
          reversedMinor: 400,
          netMinor: 300 + 1_000 + 2_000 - 400,
        },
        {
          currency: 'USD',
          approvedCount: 2,
          approvedMinor: 2_500 + 100,
          declinedCount: 0,
          reversedCount: 0,
          reversedMinor: 0,
          netMinor: 2_600,
        },
      ],
      "today's totals count every transaction of the day, in currency order",
    );
    t.same(terminals['kiosk-1'].lastTransactions, [], 'a terminal with no transactions: none');
    t.same(terminals['kiosk-1'].today, [], 'and no totals');
    t.same(Object.keys(terminals).sort(), ['kiosk-1', 'till-1'], 'the stranger is not listed');
    t.equal(
      (await users.db('terminal_transactions').where({ terminal_id: 'ghost-1' })).length,
      1,
      "an unknown terminal's transaction is kept all the same",
    );

    const rotated = await users.call('POST', '/api/terminals/till-1/secret', { identity: admin });
    t.equal(rotated.status, 200);
    t.same(
      [rotated.body.terminal.lastTransactions, rotated.body.terminal.today],
      [terminals['till-1'].lastTransactions, terminals['till-1'].today],
      'the single terminal a rotation shows has them too',
    );
    // The rotation's announcement out before the broker stops: a publish still in flight at the
    // teardown would wait out the relay's timeout.
    await eventually('the revocation announced', async () =>
      Boolean(await users.db('outbox').whereNotNull('sent_at').first()),
    );
  },
);

t.test('an event delivered twice is kept and counted once', async (t) => {
  const now = new Date('2025-06-15T12:00:00.000Z');
  const { users, publish, listed } = await setUp(t, () => now);
  const event = transaction({ at: '2025-06-15T10:00:00.000Z', amountMinor: 1_250 });
  await publish(event);
  // At least once: the same event again, as a redelivery brings it.
  await publish(event);
  const heard = () => users.logs.lines.filter((line) => line.eventId === event.id);
  // Both deliveries handled, however: a repeat ignored, or one that failed.
  await eventually('both deliveries handled', () => heard().length >= 2);
  t.same(
    heard()
      .map((line) => String(line.outcome ?? line.msg))
      .sort(),
    ['terminal_transaction_recorded', 'terminal_transaction_repeated'],
    'recorded once, the repeat ignored (no failure)',
  );

  const till = (await listed())['till-1'];
  t.same(till.lastTransactions, [shown(event)], 'listed once');
  t.same(
    till.today,
    [
      {
        currency: 'EUR',
        approvedCount: 1,
        approvedMinor: 1_250,
        declinedCount: 0,
        reversedCount: 0,
        reversedMinor: 0,
        netMinor: 1_250,
      },
    ],
    'counted once',
  );
  t.equal(await keptCount(users), 1);
});

t.test(
  "today is the calendar day of TERMINALS_TIME_ZONE at the service's clock, not UTC's",
  async (t) => {
    // 11:30 UTC on 10 March 2025 is 00:30 on 11 March in Auckland (NZDT, UTC+13).
    let now = new Date('2025-03-10T11:30:00.000Z');
    const { users, publish, listed } = await setUp(t, () => now, {
      TERMINALS_TIME_ZONE: 'Pacific/Auckland',
    });
    // 23:45 on 10 March in Auckland: yesterday there, though the same UTC day as the others.
    const lastNight = transaction({ at: '2025-03-10T10:45:00.000Z', amountMinor: 700 });
    // 00:15 on 11 March in Auckland.
    const afterMidnight = transaction({ at: '2025-03-10T11:15:00.000Z', amountMinor: 100 });
    // 00:20 in Auckland, as an offset time.
    const withOffset = transaction({ at: '2025-03-11T00:20:00+13:00', amountMinor: 250 });
    // 00:05 on 12 March in Auckland: not today either.
    const tomorrow = transaction({
      at: '2025-03-11T11:05:00.000Z',
      outcome: 'declined',
      amountMinor: 900,
    });
    for (const event of [lastNight, afterMidnight, withOffset, tomorrow]) await publish(event);
    await eventually('the four events kept', async () => (await keptCount(users)) === 4);

    const till = (await listed())['till-1'];
    t.same(
      till.lastTransactions,
      [tomorrow, withOffset, afterMidnight, lastNight].map(shown),
      "yesterday's and tomorrow's are among the last transactions",
    );
    t.same(
      till.today,
      [
        {
          currency: 'EUR',
          approvedCount: 2,
          approvedMinor: 350,
          declinedCount: 0,
          reversedCount: 0,
          reversedMinor: 0,
          netMinor: 350,
        },
      ],
      "but today's totals are of 11 March in Auckland only",
    );

    // 23:50 on 10 March in Auckland: then today was the day before.
    now = new Date('2025-03-10T10:50:00.000Z');
    t.same(
      (await listed())['till-1'].today,
      [
        {
          currency: 'EUR',
          approvedCount: 1,
          approvedMinor: 700,
          declinedCount: 0,
          reversedCount: 0,
          reversedMinor: 0,
          netMinor: 700,
        },
      ],
      'the day follows the injected clock',
    );
  },
);
