import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { measurePostgresWrites } from './ceilings.js';
import { loopback } from './loopback.js';
import { bareRoundTrip } from './payments.js';
import type { Ceiling, ReportSection } from './report.js';
import {
  bareStatement,
  countStatements,
  cpuLine,
  cpuSpent,
  durationSeconds,
  loginAdmin,
  measureCeiling,
  measureCeilingAtRate,
  postJson,
  printTable,
  resetStatements,
  type BenchSystem,
  type TableRow,
} from './system.js';

const execFileAsync = promisify(execFile);

/** What checkout-loop.ts prints. */
interface LoopFigures {
  started: number;
  paidPerSecond: number;
  paid: number;
  total: number;
  unfinished: number;
  elapsedS: number;
  whole: Percentiles;
  waitedForShopper: Percentiles;
  steps: Record<'cart' | 'order' | 'pay', Percentiles>;
  errors: Record<string, number>;
  payRetries: number;
  paidOrderIds: string[];
}
interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

/**
 * The checkout end to end through the gateway, open loop at BENCH_CHECKOUT_RATE (300 by default)
 * checkouts per second (checkout-loop.ts): each adds one unit of a product with plenty of stock to
 * a signed-in shopper's cart, places the order (stock reserved in inventory, the intent sent to
 * payments over MQTT) and pays it with the approve card (the payment's round trip over MQTT, the
 * result applied by orders). Afterwards orders' own database must say `paid` for every order the
 * pay call answered 200 for. Beside it, in the same run: the gateway → trivial upstream at the
 * checkout's request rate (three calls per checkout) and at its maximum, the bare aedes QoS 1
 * round trip, and the CPU each process spent per paid checkout (the budget the machine's cores
 * set). A warm-up runs first: BENCH_WARMUP_SECONDS (2) at BENCH_WARMUP_RATE (the run's rate).
 * The report's ceiling for the checkout, a write path, is Postgres's single-row INSERTs measured
 * on the same server just before it; each step's is the gateway → trivial upstream at the
 * checkout's request rate.
 */
export async function benchCheckout(system: BenchSystem): Promise<ReportSection[]> {
  if (!system.ordersUrl) throw new Error('bench: start the system with orders');
  const rate = Number(process.env.BENCH_CHECKOUT_RATE ?? 300);
  const shopperCount = Number(process.env.BENCH_CHECKOUT_SHOPPERS ?? Math.max(100, rate));
  const admin = await loginAdmin(system.gatewayUrl);
  const productCount = Number(process.env.BENCH_CHECKOUT_PRODUCTS ?? 1);
  const productIds: string[] = [];
  for (let index = 0; index < productCount; index++) {
    productIds.push(await stockedProduct(system.gatewayUrl, admin));
  }
  const shoppers = await registerShoppers(system.gatewayUrl, shopperCount);

  // What a trivial request costs here now: CPU per request is not a constant of the code on two
  // shared cores (it grows with the machine's load), so a checkout's cost is read beside it.
  const ceilingBefore = system.cpuSeconds();
  const ceilingMax = await measureCeiling(system);
  const ceilingCpu = cpuSpent(ceilingBefore, system.cpuSeconds());
  const ceilingRequests = ceilingMax.rps * (durationSeconds + 2);
  const ceilingAtRate = await measureCeilingAtRate(system, `${rate * 3} req/s`, rate * 3);
  const writes = await measurePostgresWrites(system);
  const rows: TableRow[] = [
    { ...ceilingAtRate, group: 'ceiling: gateway → trivial' },
    { ...ceilingMax, label: 'max', group: 'ceiling: gateway → trivial' },
    { ...(await bareRoundTrip()), group: 'ceiling: bare aedes QoS 1' },
    {
      ...writes,
      rps: writes.rps ?? Number.NaN,
      p50: writes.p50 ?? Number.NaN,
      p99: writes.p99 ?? Number.NaN,
      errors: writes.errors ?? 0,
      label: '20 in flight',
      group: 'ceiling: Postgres INSERTs',
    },
  ];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-bench-checkout-'));
  let measured: LoopFigures;
  let cpu: Record<string, number>;
  let statementReport: { perUnit: number; text: string };
  try {
    const file = path.join(dir, 'plan.json');
    await writeFile(file, JSON.stringify({ productIds, shoppers }));
    await checkoutLoop(
      system.gatewayUrl,
      Number(process.env.BENCH_WARMUP_RATE ?? rate),
      Number(process.env.BENCH_WARMUP_SECONDS ?? 2),
      file,
    );
    await resetStatements(system);
    const before = system.cpuSeconds();
    const waits = process.env.BENCH_PG_WAITS ? sampleWaits(system) : undefined;
    measured = await checkoutLoop(system.gatewayUrl, rate, durationSeconds, file);
    if (waits) printWaits(await waits.stop());
    const after = system.cpuSeconds();
    cpu = cpuSpent(before, after);
    statementReport = await countStatements(system, measured.paid, 'paid checkout');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const stepErrors = (step: string) =>
    Object.entries(measured.errors)
      .filter(([key]) => key.startsWith(`${step} `))
      .reduce((sum, [, count]) => sum + count, 0);
  const failed = measured.total - measured.paid;
  rows.push(
    {
      group: 'checkout: cart → order → pay',
      label: `${rate}/s offered, paid/s`,
      rps: measured.paidPerSecond,
      p50: measured.whole.p50,
      p99: measured.whole.p99,
      errors: failed,
    },
    ...(['cart', 'order', 'pay'] as const).map((step) => ({
      group: `  step ${stepPaths[step]}`,
      label: 'from when it was sent',
      rps: measured.started,
      ...measured.steps[step],
      errors: stepErrors(step),
    })),
    {
      group: '  waiting for a free shopper',
      label: `${shoppers.length} shoppers`,
      rps: measured.started,
      ...measured.waitedForShopper,
      errors: 0,
    },
  );
  printTable(
    'Checkout end to end through the gateway, open loop (goal: ≥ 300 paid orders/s, p99 < 250 ms)',
    rows,
  );
  const notes: string[] = [];
  const out = (line: string) => {
    notes.push(line);
    process.stdout.write(`${line}\n`);
  };
  out(
    `open loop: a checkout started every ${(1000 / rate).toFixed(1)} ms, each by a free one of ` +
      `${shoppers.length} shoppers (a cart is a user's), buying 1 unit of one of ${productIds.length} ` +
      `product(s); times from when the checkout was due`,
  );
  out(
    `checkouts: ${measured.total} started in ${measured.elapsedS.toFixed(1)} s ` +
      `(${measured.started.toFixed(0)}/s), ${measured.paid} paid, ` +
      `${measured.unfinished} unfinished ${(graceMs / 1000).toFixed(0)} s after the last was due ` +
      `(given up, counted in the errors, not in the percentiles); ` +
      `pay calls retried because payments had not heard of the order yet: ${measured.payRetries}; ` +
      `errors by step and answer: ${JSON.stringify(measured.errors)}`,
  );
  out(await confirmPaid(system, measured.paidOrderIds));
  out(cpuLine('paid checkout', cpu, measured.paid));
  if (measured.paid < measured.total) {
    out(
      `(the failed checkouts' work included: ${cpuLine('checkout started', cpu, measured.total)})`,
    );
  }
  out(cpuLine('gateway → trivial request (the ceiling, max run)', ceilingCpu, ceilingRequests));
  out(statementReport.text);
  const statement = await bareStatement(system);
  out(
    `cpu per bare SQL statement (the floor of one, 20 in flight): ${statement.cpuMs.toFixed(3)} ms ` +
      `(${statement.cpu}), ${statement.perSecond.toFixed(0)} statements/s`,
  );
  out(checkoutFloor(ceilingCpu, ceilingRequests, statementReport.perUnit, statement.cpuMs));
  const [checkout, ...steps] = rows.slice(4);
  const stepCeiling: Ceiling = {
    name: `gateway → trivial upstream at ${rate * 3} req/s`,
    ...ceilingAtRate,
  };
  return [
    {
      group: 'Checkout end to end',
      label:
        `Cart → order → pay → paid through the gateway, open loop at ${rate} checkouts/s ` +
        `(each by a free one of ${shoppers.length} shoppers), timed from when each was due. The ` +
        'checkout, a write path, stands on Postgres’s single-row INSERTs on the same server; ' +
        'each step on the gateway → trivial upstream at the checkout’s request rate.',
      ceiling: writes,
      figures: [
        {
          ...checkout!,
          label: `checkout, ${rate}/s offered (rate: paid)`,
          unit: 'checkouts/s',
          compare: 'p99',
        },
        ...steps.map((step) => ({
          ...step,
          label: `${step.group.trim()} (${step.label})`,
          compare: 'p99' as const,
          ceiling: step.group.includes('waiting') ? null : stepCeiling,
        })),
      ],
      notes,
    },
  ];
}

/**
 * The checkout's floor on this machine, from the same run: its HTTP hops at what a trivial
 * request through the gateway costs, and its statements at what a bare one costs. A checkout
 * makes 9 hops — 3 calls through the gateway, and 6 between services (2 product lookups and an
 * availability check for the cart line, a lookup and the reservation for the order, the
 * reservation's commit when the payment is applied) — and no MQTT message, card or business
 * logic is counted: the most this design could reach if all that were free.
 */
function checkoutFloor(
  ceilingCpu: Record<string, number>,
  ceilingRequests: number,
  statementsPerCheckout: number,
  statementMs: number,
): string {
  const hops = 9;
  const hopMs =
    (Object.values(ceilingCpu).reduce((sum, seconds) => sum + seconds, 0) * 1000) / ceilingRequests;
  const floorMs = hops * hopMs + statementsPerCheckout * statementMs;
  const cores = os.cpus().length;
  return (
    `checkout floor: ${hops} hops × ${hopMs.toFixed(2)} ms + ${statementsPerCheckout.toFixed(0)} ` +
    `statements × ${statementMs.toFixed(3)} ms = ${floorMs.toFixed(1)} ms of cpu per checkout: ` +
    `at most ~${Math.floor((cores * 1000) / floorMs)} checkouts/s on ${cores} cores with no MQTT, ` +
    `card or business logic at all`
  );
}

const graceMs = Number(process.env.BENCH_CHECKOUT_GRACE_MS ?? 30_000);

const stepPaths = {
  cart: 'POST /api/cart/items',
  order: 'POST /api/orders',
  pay: 'POST …/payments',
} as const;

async function checkoutLoop(
  gatewayUrl: string,
  rate: number,
  seconds: number,
  file: string,
): Promise<LoopFigures> {
  const generator = fileURLToPath(new URL('./checkout-loop.js', import.meta.url));
  const { stdout } = await execFileAsync(
    process.execPath,
    [generator, loopback(gatewayUrl), String(rate), String(seconds), `@${file}`],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as LoopFigures;
}

/**
 * Orders' database, not the answers: the orders the pay call approved, once all are paid (orders
 * applies each result when it hears it, after the gateway did), or what they are after 60 s.
 */
async function confirmPaid(system: BenchSystem, orderIds: string[]): Promise<string> {
  const client = new pg.Client({ connectionString: system.databaseUrl('mercado_orders') });
  await client.connect();
  const started = Date.now();
  try {
    for (;;) {
      const { rows } = await client.query<{ status: string; n: string }>(
        'select status, count(*) as n from orders where id = any($1::uuid[]) group by status',
        [orderIds],
      );
      const counts = Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
      const paid = counts.paid ?? 0;
      const waited = ((Date.now() - started) / 1000).toFixed(1);
      if (paid === orderIds.length) {
        return `orders' database: all ${paid} orders the pay call approved are paid (${waited} s after the run)`;
      }
      if (Date.now() - started > 60_000) {
        return `orders' database: ${paid} of the ${orderIds.length} orders the pay call approved are paid ${waited} s after the run (${JSON.stringify(counts)})`;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await client.end();
  }
}

/** One product on sale with more stock in the carts' region (north) than any run sells. */
export async function stockedProduct(gatewayUrl: string, adminToken: string): Promise<string> {
  const created = await postJson(gatewayUrl, '/api/products', adminToken, {
    sku: `BENCH-${randomUUID()}`,
    name: 'Checkout benchmark mug',
    priceMinor: 1_999,
    currency: 'EUR',
  });
  const productId = (created.body as { id?: string }).id;
  if (created.status !== 201 || !productId) {
    throw new Error(`bench: creating the product answered ${created.status}`);
  }
  const stocked = await fetch(`${gatewayUrl}/api/inventory/${productId}/north`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ onHand: 1_000_000_000, reason: 'benchmark stock' }),
  });
  if (stocked.status !== 200) throw new Error(`bench: stocking answered ${stocked.status}`);
  return productId;
}

/** Shoppers' access tokens, registered a few at a time (argon2 makes each take a while). */
export async function registerShoppers(gatewayUrl: string, count: number): Promise<string[]> {
  const tokens: string[] = [];
  const one = async () => {
    const answer = await postJson(gatewayUrl, '/api/auth/register', undefined, {
      email: `shopper-${randomUUID()}@bench.example`,
      password: 'a long shopping passphrase',
      name: 'Shopper',
    });
    const token = (answer.body as { accessToken?: string }).accessToken;
    if (!token) throw new Error(`bench: register answered ${answer.status}`);
    tokens.push(token);
  };
  let started = 0;
  const worker = async () => {
    while (started++ < count) await one();
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return tokens;
}

/**
 * BENCH_PG_WAITS=1: what Postgres's busy connections are doing, sampled every 100 ms during the
 * measured run (state, wait event, statement): "idle in transaction / ClientRead" is a
 * transaction waiting for its service to send the next statement; `Lock:…` one waiting for
 * another's row.
 */
function sampleWaits(system: BenchSystem): { stop(): Promise<Map<string, number>> } {
  const counts = new Map<string, number>();
  const client = new pg.Client({ connectionString: system.databaseUrl('postgres') });
  let sampling = true;
  const done = (async () => {
    await client.connect();
    while (sampling) {
      const { rows } = await client.query<{ line: string }>(
        `select datname || ' ' || state || ' ' || coalesce(wait_event_type || ':' || wait_event, 'running')
                || ' ' || regexp_replace(left(query, 60), '\\s+', ' ', 'g') as line
           from pg_stat_activity
          where backend_type = 'client backend' and pid <> pg_backend_pid() and state <> 'idle'`,
      );
      for (const { line } of rows) counts.set(line, (counts.get(line) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await client.end();
  })();
  return {
    async stop() {
      sampling = false;
      await done;
      return counts;
    },
  };
}

function printWaits(counts: Map<string, number>) {
  process.stdout.write(
    'busy Postgres connections, samples (every 100 ms) by database, state, wait:\n',
  );
  for (const [line, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    process.stdout.write(`${String(count).padStart(6)}  ${line}\n`);
  }
}
