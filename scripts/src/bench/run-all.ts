import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot } from '../local-state.js';
import { benchBroker } from './broker.js';
import { benchCatalog } from './catalog.js';
import { ensureBenchPrograms, measureNginxStatic } from './ceilings.js';
import { benchCheckout } from './checkout.js';
import { benchGateway } from './gateway.js';
import { guardSockets, originsOpened } from './loopback.js';
import { describeMachine, watchOtherProcesses } from './machine.js';
import { benchPayments } from './payments.js';
import { createReport, formatDuration, type Machine, type ReportSection } from './report.js';
import { benchStock } from './stock.js';
import { benchStorefront } from './storefront.js';
import { durationSeconds, startBenchSystem, warmupSeconds } from './system.js';
import { benchTerminals } from './terminals.js';
import {
  benchSingleGatewayCapacity,
  benchTopologyCheckout,
  capacitySection,
  type CapacityFigures,
} from './topology.js';

/**
 * `npm run bench`: every benchmark on one system, each figure beside its ceiling measured in the
 * same run, the terminal tables as each benchmark prints them, then docs/benchmarks.md
 * (BENCH_REPORT: another file) with the machine, the date and every table. Traffic goes to
 * 127.0.0.1 only (bench/loopback.ts); the total time is printed at the end.
 */
export const reportFile = path.resolve(repoRoot, process.env.BENCH_REPORT ?? 'docs/benchmarks.md');

export async function runAll(): Promise<void> {
  let stray: Error | undefined;
  guardSockets((error) => (stray ??= error));
  ensureBenchPrograms();
  const startedAt = new Date();
  const started = performance.now();
  const others = watchOtherProcesses();
  const report = createReport();
  const steps: Array<{ name: string; seconds: number }> = [];
  /** One benchmark: its sections into the report, its time into the table; its sections back. */
  const step = async (name: string, run: () => Promise<ReportSection[]>) => {
    const began = performance.now();
    process.stdout.write(`\n== ${name}\n`);
    const sections = await run();
    for (const section of sections) report.add(section);
    const seconds = (performance.now() - began) / 1000;
    steps.push({ name, seconds });
    process.stdout.write(`== ${name}: ${formatDuration(seconds)}\n`);
    if (stray) throw stray;
    return sections;
  };

  await step('ceiling: nginx static', async () => {
    report.addCeiling(
      await measureNginxStatic(),
      'anything through nginx: the checkout through nginx in the topology',
    );
    return [];
  });
  const system = await startBenchSystem({ catalog: true, orders: true });
  let machine: Machine;
  let oneGateway: CapacityFigures | undefined;
  try {
    machine = await describeMachine(system);
    await step('gateway', () => benchGateway(system));
    await step('catalog', () => benchCatalog(system, { report: true }));
    await step('stock', () => benchStock(system, { report: true }));
    await step('payments', () => benchPayments(system));
    await step('checkout', () => benchCheckout(system));
    await step('checkout capacity, one gateway', async () => {
      oneGateway = await benchSingleGatewayCapacity(system.gatewayUrl);
      return [];
    });
    await step('terminals', () => benchTerminals(system));
    await step('storefront', () => benchStorefront(system));
  } finally {
    await system.stop();
  }
  // The production shape, once the one-gateway system is gone: its checkout through nginx
  // beside the one-gateway capacity of this run (the goal: at least 80% of it).
  await step('topology', async () => [capacitySection(oneGateway!, await benchTopologyCheckout())]);
  // The broker needs none of the system: it runs once the services are gone, on a quiet machine.
  await step('broker', () => benchBroker());

  const totalSeconds = (performance.now() - started) / 1000;
  const text = report.render({
    machine,
    startedAt,
    totalSeconds,
    benchSeconds: durationSeconds,
    warmupSeconds,
    steps,
    othersCpuShare: others.stop(),
    origins: originsOpened(),
    ...(process.env.BENCH_NOTE ? { note: process.env.BENCH_NOTE } : {}),
  });
  await writeFile(reportFile, text);
  process.stdout.write(
    `\nnpm run bench: ${formatDuration(totalSeconds)} in all; the report: ${path.relative(repoRoot, reportFile)}\n`,
  );
}
