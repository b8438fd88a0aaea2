import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { eventually } from '@mercado/common/testing';
import { strongPassword } from '@mercado/users/testing';
import { repoRoot, run, simulator, startTerminalSystem } from './till.js';

/**
 * The root README's "Paying at a terminal" as a reader runs it: its shell blocks (each marked
 * `<!-- terminal-readme: name -->`), taken from the README as written and run in order by one
 * bash against the whole system — the admin's curl registration through the gateway at the real
 * users registry, the simulator, and the mosquitto clients speaking as the terminal's firmware.
 * Only the defaults the README lets the environment override change (MERCADO_URL, ADMIN_PASSWORD,
 * SHOPPER_PASSWORD, MQTT_URL, MQTT_PORT). Each step's output is checked afterwards; nothing
 * waits a fixed time.
 */

t.setTimeout(600_000);

interface Block {
  name: string;
  code: string;
}

/** The marked blocks of the README's section `heading` (up to the next `##` heading), in order. */
function sectionBlocks(readme: string, heading: string): Block[] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no "${heading}"`);
  const rest = readme.slice(start + heading.length + 2);
  const section = rest.slice(0, rest.search(/^## /m) >>> 0);
  const marked = /<!-- terminal-readme: ([\w-]+) -->\s*```sh\n([\s\S]*?)```/g;
  return [...section.matchAll(marked)].map((match) => ({ name: match[1]!, code: match[2]! }));
}

/** A line of JSON, or (curl's answers run together on one line) the text as it is. */
function jsonOrText(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return line;
  }
}

/** What each block printed: the JSON objects among its lines (curl's and the answers). */
function outputsByBlock(stdout: string): Map<string, any[]> {
  const blocks = new Map<string, any[]>();
  let current: any[] | undefined;
  for (const line of stdout.split('\n')) {
    const marker = /^::block (\S+)$/.exec(line);
    if (marker) blocks.set(marker[1]!, (current = []));
    else if (current && line.startsWith('{')) current.push(jsonOrText(line));
  }
  return blocks;
}

const answers = (outputs: any[] | undefined) =>
  (outputs ?? []).filter((output) => output?.type === 'terminal.result');

t.test('the README section "Paying at a terminal" runs as written', async (t) => {
  const readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8');
  const blocks = sectionBlocks(readme, '### Paying at a terminal');
  t.same(
    blocks.map((block) => block.name),
    [
      'register',
      'simulator',
      'mosquitto-connect',
      'mosquitto-pay',
      'mosquitto-order',
      'mosquitto-pay-code',
      'mosquitto-after',
      'list',
    ],
    'every marked block, in order',
  );

  const system = await startTerminalSystem(t);
  // The demo shopper and a product with stock, as `npm start` loads them.
  const shopperEmail = 'compras@mercado.local';
  const registered = await system.api(undefined, 'POST', '/api/auth/register', {
    body: { email: shopperEmail, password: strongPassword, name: 'Lucía Compradora' },
  });
  t.equal(registered.status, 201, 'the demo shopper');
  await system.sell();

  const script = [
    'set -u',
    // `npm run --silent terminal -- …` is the simulator the test runner built: `npm run` would
    // rebuild every package's dist/ while other test files run from it.
    'npm() { if [ "${1-} ${2-} ${3-} ${4-}" = "run --silent terminal --" ]; then shift 4; node "$SIMULATOR" "$@"; else command npm "$@"; fi; }',
    ...blocks.flatMap((block) => [
      // curl's answers end without a newline: the marker starts a line of its own.
      `echo; echo '::block ${block.name}'`,
      block.code,
    ]),
  ].join('\n');
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'readme-terminal-'));
  t.teardown(() => rm(cwd, { recursive: true, force: true }));
  await writeFile(path.join(cwd, 'section.sh'), script);
  // The section registers its own terminal: none of the test's environment may stand in for it.
  const parentEnv = { ...process.env };
  delete parentEnv.TERMINAL_ID;
  delete parentEnv.TERMINAL_SECRET;
  const finished = await run(
    'bash',
    ['section.sh'],
    {
      MERCADO_URL: system.gateway.url,
      ADMIN_PASSWORD: system.adminPassword,
      SHOPPER_PASSWORD: strongPassword,
      ...system.env,
      SIMULATOR: simulator,
    },
    cwd,
    parentEnv,
  ).finished;
  t.notMatch(
    finished.stderr,
    /command not found|No such file|syntax error|unbound variable/,
    'every command ran',
    {
      stderr: finished.stderr,
    },
  );
  const outputs = outputsByBlock(finished.stdout);

  const [registration] = outputs.get('register') ?? [];
  t.match(
    registration,
    { terminal: { id: /^term-/, name: 'Till 1' }, secret: /^[\w-]{43}$/ },
    'registered',
  );
  const terminalId = registration.terminal.id as string;

  const [paid, declined, status, reversed, totals] = answers(outputs.get('simulator'));
  t.match(paid, { request: 'payment', result: 'success', amountMinor: 1_250, currency: 'EUR' });
  t.match(declined, { request: 'payment', result: 'failure', errorCondition: 'card_declined' });
  t.match(status, { request: 'status', state: 'processed', ofRequestId: paid.requestId });
  t.match(reversed, { request: 'reversal', result: 'success', amountMinor: 250 });
  t.match(totals, { request: 'reconciliation', result: 'success' });

  t.match(outputs.get('mosquitto-connect'), [
    { type: 'payments.keys', keys: [{ alg: 'ECDH-ES+A256KW' }] },
  ]);
  const [sale] = answers(outputs.get('mosquitto-pay'));
  t.match(sale, {
    requestId: 'sale-0001',
    request: 'payment',
    result: 'success',
    transactionId: /^sbx_ch_/,
    amountMinor: 1_250,
    currency: 'EUR',
    cardLast4: '4242',
  });

  const orderRow = await system.db.orders('orders').orderBy('created_at', 'desc').first();
  t.ok(orderRow?.pay_code, 'the shopper’s order was placed, with a pay code');
  const [byCode] = answers(outputs.get('mosquitto-pay-code'));
  t.match(
    byCode,
    {
      requestId: 'sale-0002',
      request: 'order_payment',
      result: 'success',
      orderId: orderRow.id,
      amountMinor: Number(orderRow.total_minor),
      currency: orderRow.currency,
    },
    'the order paid by its code, its amount',
  );
  await system.settled(orderRow.id, ['paid']);

  const [asked, abort, aborted, notAbortable, reversal, periodTotals, closed] = answers(
    outputs.get('mosquitto-after'),
  );
  t.match(asked, {
    requestId: 'sale-0003',
    request: 'status',
    state: 'processed',
    ofRequestId: 'sale-0001',
  });
  t.same(asked.original, sale, 'the status gives the first answer itself');
  t.match(abort, {
    requestId: 'sale-0004',
    request: 'abort',
    result: 'success',
    ofRequestId: 'sale-0005',
  });
  t.match(aborted, {
    requestId: 'sale-0005',
    request: 'payment',
    result: 'failure',
    errorCondition: 'aborted',
  });
  t.match(notAbortable, {
    requestId: 'sale-0006',
    result: 'failure',
    errorCondition: 'not_abortable',
  });
  t.match(reversal, {
    requestId: 'sale-0007',
    request: 'reversal',
    result: 'success',
    amountMinor: 500,
    reversedTransactionId: sale.transactionId,
    transactionId: /^sbx_re_/,
  });
  const expectedTotals = [
    {
      currency: 'EUR',
      approved: { count: 3, amountMinor: 1_250 + 1_250 + byCode.amountMinor },
      declined: { count: 1, amountMinor: 700 },
      reversed: { count: 2, amountMinor: 250 + 500 },
    },
  ];
  t.match(periodTotals, { requestId: 'sale-0008', request: 'reconciliation', result: 'success' });
  t.same(
    periodTotals.period.totals,
    expectedTotals,
    'the totals: every payment, decline and reversal of the section',
  );
  t.notOk(periodTotals.period.closedAt, 'the period is open');
  t.match(closed, { requestId: 'sale-0009', request: 'reconciliation', result: 'success' });
  t.equal(
    closed.period.periodId,
    periodTotals.period.periodId,
    'close answers the open period’s id',
  );
  t.ok(closed.period.closedAt, 'now closed');
  t.same(closed.period.totals, expectedTotals, 'with its totals');

  const [listed] = outputs.get('list') ?? [];
  t.ok(
    listed?.items?.some((item: { id: string }) => item.id === terminalId),
    'the admin lists the terminal',
  );

  // The last line said offline, retained, and payments announced every transaction: the admin's
  // list hears them all (through the API, as the block asked; these arrive when they arrive).
  const token = await system.adminToken();
  const shown = await eventually('the terminal offline, with every transaction', async () => {
    const list = await system.api(undefined, 'GET', '/api/terminals', {
      headers: { authorization: `Bearer ${token}` },
    });
    const item = list.body.items.find((each: { id: string }) => each.id === terminalId);
    const counted = item?.today?.[0];
    return item?.presence.status === 'offline' &&
      counted?.approvedCount + counted?.declinedCount + counted?.reversedCount === 6
      ? item
      : undefined;
  });
  const [period] = expectedTotals;
  t.same(
    shown.today,
    [
      {
        currency: 'EUR',
        approvedCount: period!.approved.count,
        approvedMinor: period!.approved.amountMinor,
        declinedCount: period!.declined.count,
        reversedCount: period!.reversed.count,
        reversedMinor: period!.reversed.amountMinor,
        netMinor: period!.approved.amountMinor - period!.reversed.amountMinor,
      },
    ],
    'today: the period’s totals (the whole of it happened today)',
  );
  t.match(
    shown.lastTransactions.map((each: { kind: string; outcome: string; amountMinor: number }) => [
      each.kind,
      each.outcome,
      each.amountMinor,
    ]),
    [
      ['reversal', 'reversed', 500],
      ['payment', 'approved', byCode.amountMinor],
      ['payment', 'approved', 1_250],
      ['reversal', 'reversed', 250],
      ['payment', 'declined', 700],
    ],
    'the five newest, newest first',
  );
});
