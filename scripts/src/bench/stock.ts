import { measureExpressTrivial } from './ceilings.js';
import type { Ceiling, ReportFigure, ReportSection } from './report.js';
import {
  benchAdminPassword,
  listAllProducts,
  loadBenchDemo,
  measureAtRate,
  measureCeiling,
  measureCeilingAtRate,
  measureMax,
  measureMaxInTurns,
  measureMaxOver,
  type Figures,
  printTable,
  type BenchSystem,
  type TableRow,
} from './system.js';

/**
 * The stock of a product (`GET /api/inventory/{productId}`) through the gateway → inventory, on the
 * demo catalog, next to the gateway → trivial upstream ceiling measured in the same run. The
 * storefront reads it for every product card and the checkout for every line. Three ways:
 * - one product, as shoppers send it (the answer says `public, no-cache`, so the gateway's
 *   micro-cache never keeps it: every request reaches inventory, which answers from its per-product
 *   answer cache until that product's stock changes);
 * - every demo product in turn (the cache holds them all);
 * - one product while its stock changes all the time (a writer adjusting it as fast as it can), so
 *   many reads are computed by inventory and Postgres.
 * Throughput with 50 connections, in turns with the ceiling (measureMaxInTurns), then latency at a
 * steady 1,000 req/s from an open-loop generator, beside the ceiling's at the same rate. The report
 * compares each throughput with the Express trivial upstream measured first, and each latency
 * with the gateway → trivial upstream's at 1,000 req/s.
 *
 * `report` (npm run bench): one turn each unless BENCH_ROUNDS says more.
 */
export async function benchStock(
  system: BenchSystem,
  { report = false }: { report?: boolean } = {},
): Promise<ReportSection[]> {
  // npm run bench: one turn each (the ceiling, then the route, back to back) unless BENCH_ROUNDS
  // says more, to keep the whole run near ten minutes.
  const rounds = Number(process.env.BENCH_ROUNDS ?? (report ? 1 : 3));
  await loadBenchDemo(system);
  const express = await measureExpressTrivial();
  const productIds = (await listAllProducts(system.gatewayUrl)).map((product) => product.id);
  const productId = productIds[0]!;
  const url = `${system.gatewayUrl}/api/inventory/${productId}`;
  const ceiling = () => measureCeiling(system);
  const turns: string[] = [];
  const inTurns = async (group: string, target: () => Promise<Figures>): Promise<TableRow> => {
    const measured = await measureMaxInTurns(ceiling, target, rounds);
    turns.push(`${group}: ${measured.turns}`);
    return { ...measured.row, group };
  };

  const one = await measureMaxInTurns(ceiling, () => measureMax('max', url), rounds);
  turns.push(`one product: ${one.turns}`);
  const ceilingAtRate = await measureCeilingAtRate(system, '1,000 req/s', 1000);
  const rows: TableRow[] = [
    { ...express, label: 'max', group: 'ceiling: Express trivial' },
    { ...one.ceiling, group: 'GET /api/auth/jwks.json (ceiling)' },
    { ...ceilingAtRate, group: 'GET /api/auth/jwks.json (ceiling)' },
    { ...one.row, group: 'one product' },
    { ...(await measureAtRate('1,000 req/s', url, 1000)), group: 'one product' },
    await inTurns('every product in turn', () =>
      measureMaxOver(
        `max, ${productIds.length} products`,
        system.gatewayUrl,
        productIds.map((id) => `/api/inventory/${id}`),
      ),
    ),
  ];
  const admin = await signIn(system.gatewayUrl, 'root@bench.example', benchAdminPassword);
  const writer = churn(system.gatewayUrl, admin, productId);
  try {
    rows.push(await inTurns('one product, stock churning', () => measureMax('max', url)), {
      ...(await measureAtRate('1,000 req/s', url, 1000)),
      group: 'one product, stock churning',
    });
  } finally {
    const changes = await writer.stop();
    process.stdout.write(`(stock changes of that product during the churn runs: ${changes})\n`);
  }
  printTable('Stock benchmark (vs ref = share of the gateway → trivial upstream ceiling)', rows);
  process.stdout.write(
    `Throughput in turns with the ceiling (req/s, the medians above):\n${turns.map((line) => `  ${line}`).join('\n')}\n`,
  );
  const atRate: Ceiling = { name: 'gateway → trivial upstream at 1,000 req/s', ...ceilingAtRate };
  const ceilingNames = [
    'gateway → trivial upstream, max',
    'gateway → trivial upstream, 1,000 req/s',
  ];
  const figures: ReportFigure[] = rows.slice(1).map((row, index) => {
    const name = ceilingNames[index] ?? `${row.group}: ${row.label}`;
    if (index === 1) return { ...row, label: name, ceiling: null };
    return row.label.includes('req/s')
      ? { ...row, label: name, compare: 'p99', ceiling: atRate }
      : { ...row, label: name };
  });
  return [
    {
      group: 'Stock reads through the gateway',
      label:
        '`GET /api/inventory/{productId}` through the gateway → inventory on the demo catalog: ' +
        'one product, every product in turn, and one product while a writer changes its stock ' +
        'as fast as it can. ' +
        (rounds === 1
          ? 'Each throughput is measured right after the gateway → trivial upstream’s (one turn).'
          : `Each throughput is the median of ${rounds} runs taken in turns with the gateway → ` +
            'trivial upstream’s.'),
      ceiling: express,
      figures,
      notes: turns.map((line) => `in turns, req/s: ${line}`),
    },
  ];
}

async function signIn(gatewayUrl: string, email: string, password: string): Promise<string> {
  const response = await fetch(`${gatewayUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const body = (await response.json()) as { accessToken?: string };
  if (!body.accessToken) throw new Error(`bench: admin sign-in answered ${response.status}`);
  return body.accessToken;
}

/** Adjusts the product's stock up and down, one change after another, until stopped. */
function churn(gatewayUrl: string, token: string, productId: string) {
  let running = true;
  let changes = 0;
  const loop = (async () => {
    for (let step = 0; running; step++) {
      const response = await fetch(`${gatewayUrl}/api/inventory/${productId}/north`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ delta: step % 2 === 0 ? 1 : -1, reason: 'bench churn' }),
      });
      await response.arrayBuffer();
      if (response.ok) changes++;
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return changes;
    },
  };
}
