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
 * steady 1,000 req/s from an open-loop generator, beside the ceiling's at the same rate.
 */
export async function benchStock(system: BenchSystem): Promise<void> {
  await loadBenchDemo(system);
  const productIds = (await listAllProducts(system.gatewayUrl)).map((product) => product.id);
  const productId = productIds[0]!;
  const url = `${system.gatewayUrl}/api/inventory/${productId}`;
  const ceiling = () => measureCeiling(system);
  const turns: string[] = [];
  const inTurns = async (group: string, target: () => Promise<Figures>): Promise<TableRow> => {
    const measured = await measureMaxInTurns(ceiling, target);
    turns.push(`${group}: ${measured.turns}`);
    return { ...measured.row, group };
  };

  const one = await measureMaxInTurns(ceiling, () => measureMax('max', url));
  turns.push(`one product: ${one.turns}`);
  const rows: TableRow[] = [
    { ...one.ceiling, group: 'GET /api/auth/jwks.json (ceiling)' },
    {
      ...(await measureCeilingAtRate(system, '1,000 req/s', 1000)),
      group: 'GET /api/auth/jwks.json (ceiling)',
    },
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
