import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTopology, type Topology } from '../topology.js';
import { registerShoppers, stockedProduct } from './checkout.js';
import type { ReportSection } from './report.js';
import { durationSeconds, loginAdmin, postJson, type Figures } from './system.js';

export type CapacityFigures = Figures;

const execFileAsync = promisify(execFile);

/** How many shoppers check out at once in a capacity run (each again as soon as it is done). */
export const capacityShoppers = Number(process.env.BENCH_CAPACITY_SHOPPERS ?? 48);

/** What the checkout loop prints (checkout-loop.ts), the part read here. */
interface ClosedLoopFigures {
  paidPerSecond: number;
  paid: number;
  total: number;
  whole: { p50: number; p99: number; max: number };
  errors: Record<string, number>;
}

/**
 * The checkout's capacity through `baseUrl`: `capacityShoppers` shoppers each checking out (cart,
 * order, pay with the approve card: checkout-loop.ts) again as soon as the last one ended, for
 * BENCH_SECONDS after a 2 s warm-up — paid checkouts per second, and each checkout's time. The
 * same measure on the one-gateway system and through nginx in the topology, so the two compare.
 */
export async function measureCheckoutCapacity(
  label: string,
  baseUrl: string,
  adminToken: string,
  warmupSeconds = 2,
): Promise<Figures> {
  const productId = await stockedProduct(baseUrl, adminToken);
  const shoppers = await registerShoppers(baseUrl, capacityShoppers);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-bench-capacity-'));
  try {
    const file = path.join(dir, 'plan.json');
    await writeFile(file, JSON.stringify({ productIds: [productId], shoppers }));
    await closedLoop(baseUrl, warmupSeconds, file);
    const run = await closedLoop(baseUrl, durationSeconds, file);
    const errors = Object.values(run.errors).reduce((sum, count) => sum + count, 0);
    return {
      label,
      rps: run.paidPerSecond,
      p50: run.whole.p50,
      p99: run.whole.p99,
      max: run.whole.max,
      errors,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function closedLoop(baseUrl: string, seconds: number, file: string) {
  const generator = fileURLToPath(new URL('./checkout-loop.js', import.meta.url));
  const { stdout } = await execFileAsync(
    process.execPath,
    [generator, baseUrl, `closed:${capacityShoppers}`, String(seconds), `@${file}`],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout) as ClosedLoopFigures;
}

/** A fresh topology's warm-up through nginx before anything is measured on it (JIT, caches). */
const topologyWarmupSeconds = Number(process.env.BENCH_TOPOLOGY_WARMUP ?? 15);

export interface TopologyCapacity {
  /** Through nginx, 2 of each replicated part. */
  nginx: Figures;
  /** The same topology, to one of its gateways directly: what nginx and the second gateway add. */
  oneGateway: Figures;
  /** Through nginx, one of each part: what the second replicas cost on these cores. */
  singleReplicas: Figures;
}

/**
 * The checkout through nginx in the production topology (scripts/src/topology.ts: 2 gateways,
 * 2 orders, 2 payments, 2 broker nodes on Redis, the payments Postgres apart), at capacity; the
 * same topology to one of its gateways directly; and, as the ceiling that explains the gap, the
 * topology with one of each part through nginx. Each topology is warmed up through nginx first
 * (BENCH_TOPOLOGY_WARMUP, 15 s: a fresh system's first seconds measure its JIT). Started after
 * the one-gateway system has stopped, on a quiet machine.
 */
export async function benchTopologyCheckout(): Promise<TopologyCapacity> {
  const replicated = await onTopology(2, async (topology, token) => {
    const gateway = topology.replicas('gateway')[0]!;
    const oneGateway = await measureCheckoutCapacity(
      'checkout to one of its gateways directly (topology)',
      gateway.url,
      token,
    );
    const nginx = await measureCheckoutCapacity(
      'checkout through nginx, 2 gateways (topology)',
      topology.url,
      token,
    );
    return { nginx, oneGateway };
  });
  const singleReplicas = await onTopology(1, (topology, token) =>
    measureCheckoutCapacity(
      'checkout through nginx, 1 of each part (topology)',
      topology.url,
      token,
    ),
  );
  return { ...replicated, singleReplicas };
}

async function onTopology<T>(
  replicas: number,
  measure: (topology: Topology, adminToken: string) => Promise<T>,
): Promise<T> {
  const topology = await startTopology({
    demo: false,
    logLevel: 'warn',
    replicas: {
      broker: replicas,
      orders: replicas,
      payments: replicas,
      gateway: replicas,
      frontend: replicas,
    },
  });
  try {
    const login = await postJson(topology.url, '/api/auth/login', undefined, topology.admin);
    const token = (login.body as { accessToken?: string }).accessToken;
    if (!token) throw new Error(`bench: the topology's admin login answered ${login.status}`);
    await measureCheckoutCapacity('warm-up', topology.url, token, topologyWarmupSeconds);
    return await measure(topology, token);
  } finally {
    await topology.stop();
  }
}

/** The one-gateway system's checkout capacity (the bench system of bench.ts). */
export async function benchSingleGatewayCapacity(gatewayUrl: string): Promise<Figures> {
  return measureCheckoutCapacity(
    'checkout, one gateway (bench system)',
    gatewayUrl,
    await loginAdmin(gatewayUrl),
  );
}

/**
 * The report's section: the checkout's capacity through nginx in the topology, and to one of its
 * gateways directly, each against the one-gateway system's capacity of the same run — the goal
 * being through nginx at least 80% of it.
 */
export function capacitySection(single: Figures, topology: TopologyCapacity): ReportSection {
  const ratio = topology.nginx.rps / single.rps;
  return {
    group: 'Checkout through nginx in the topology',
    label:
      `Capacity: ${capacityShoppers} shoppers each checking out again as soon as the last ` +
      'checkout ended (cart → order → pay with the approve card), on the production topology ' +
      '(nginx, 2 gateways, 2 orders, 2 payments, 2 broker nodes on Redis, payments on its own ' +
      'Postgres) against the one-gateway system of this run, one after the other.',
    ceiling: {
      name: 'checkout capacity, one gateway (bench system)',
      unit: 'checkouts/s',
      rps: single.rps,
      p50: single.p50,
      p99: single.p99,
      errors: single.errors,
    },
    figures: [
      { ...topology.nginx, unit: 'checkouts/s' },
      { ...topology.oneGateway, unit: 'checkouts/s' },
      { ...topology.singleReplicas, unit: 'checkouts/s' },
    ],
    notes: [
      `Through nginx with 2 gateways: ${percent(ratio)} of the one-gateway system's rate ` +
        `(the goal: at least 80%)${ratio >= 0.8 ? ', met' : ', not met'}; ` +
        `${percent(topology.nginx.rps / topology.oneGateway.rps)} of the same topology's rate ` +
        'through one of its gateways directly (what nginx and the second gateway cost or give, ' +
        'on the same services, brokers and databases); ' +
        `${percent(topology.nginx.rps / topology.singleReplicas.rps)} of the topology with one ` +
        'of each part through nginx (what the second replicas cost on these cores).',
    ],
  };
}

const percent = (ratio: number) => `${(ratio * 100).toFixed(0)}%`;

/** The capacity table, with the report section's ratios (the goal among them). */
export function printCapacity(single: Figures, topology: TopologyCapacity): void {
  const rows = [single, topology.nginx, topology.oneGateway, topology.singleReplicas];
  process.stdout.write(`\ncheckout capacity, ${capacityShoppers} shoppers in a closed loop\n`);
  for (const row of rows) {
    process.stdout.write(
      `  ${row.label.padEnd(56)} ${row.rps.toFixed(0).padStart(6)} paid/s  p50 ${row.p50.toFixed(1)} ms  p99 ${row.p99.toFixed(1)} ms  errors ${row.errors}\n`,
    );
  }
  for (const note of capacitySection(single, topology).notes ?? []) {
    process.stdout.write(`  ${note}\n`);
  }
}
