import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  topics,
  type TerminalPaymentRequested,
  type TerminalResult,
} from '@mercado/common/contract';
import { connectMqtt } from '@mercado/common/mqtt';
import { connectTerminal, encryptTestCard } from '../terminal/index.js';
import { machineBusyMicros, nextMessage, spawnNode, startBroker, stopChild } from './broker.js';
import { loopback } from './loopback.js';
import type { ReportSection } from './report.js';
import type { FleetFigures, FleetMessage, FleetPlan } from './terminal-fleet.js';
import {
  countStatements,
  cpuLine,
  cpuSpent,
  loginAdmin,
  postJson,
  printTable,
  resetStatements,
  type BenchSystem,
  type TableRow,
} from './system.js';

/**
 * A fleet of payment terminals paying walk-in amounts (bench/terminal-fleet.ts, a process of its
 * own): BENCH_TERMINALS (1,000) terminals registered in the users service's registry through the
 * gateway, as an admin registers one, each connected as itself to Mercado's broker — which
 * verifies its secret at the users service — before anything is timed; then
 * BENCH_TERMINAL_RATE (500) payments/s in total for BENCH_TERMINAL_SECONDS (20), open loop,
 * spread over the terminals in turn, after a BENCH_TERMINAL_WARMUP_SECONDS warm-up at the same
 * rate (2 s, or as long as it takes every terminal to pay once): `terminals/{id}/requests` → payments (the card decrypted, the sandbox processor, its
 * Postgres, the answer through its outbox) → `terminals/{id}/results`, each timed from when it was
 * due. Beside it, in the same run, the ceiling it stands on: bare aedes (no authentication, no
 * contract) with a plain echo client answering every request on the terminal's results topic, the
 * same fleet at the same rate. Prints payments/s answered `success`, p50/p99/max, failures and
 * timeouts (no answer in BENCH_TERMINAL_TIMEOUT_MS, 10 s), the CPU each process spent per payment
 * and the statements payments sent per payment.
 */
export async function benchTerminals(system: BenchSystem): Promise<ReportSection[]> {
  if (!system.mqttUrl) throw new Error('bench: start the system with payments');
  const count = Number(process.env.BENCH_TERMINALS ?? 1_000);
  const rate = Number(process.env.BENCH_TERMINAL_RATE ?? 500);
  const seconds = Number(process.env.BENCH_TERMINAL_SECONDS ?? 20);
  // Long enough for every terminal to pay once: a terminal's first payment opens its period (the
  // transaction's path), the ones after are recorded in one statement.
  const warmupSeconds = Number(
    process.env.BENCH_TERMINAL_WARMUP_SECONDS ?? Math.max(2, Math.ceil(count / rate)),
  );
  const timeoutMs = Number(process.env.BENCH_TERMINAL_TIMEOUT_MS ?? 10_000);

  const registering = performance.now();
  const terminals = await registerTerminals(system.gatewayUrl, count);
  const registeredS = (performance.now() - registering) / 1000;
  // payments' announced key, heard as a terminal hears it; a card encrypted once per terminal.
  const first = await connectTerminal({ url: system.mqttUrl, ...terminals[0]!, presence: false });
  const keys = await first.cardKeys().finally(() => first.close());
  const cards = await Promise.all(terminals.map(() => encryptTestCard(keys)));

  const plan = (url: string): FleetPlan => ({
    url: loopback(url),
    terminals: terminals.map(({ terminalId, secret }) => ({ id: terminalId, secret })),
    cards,
    rate,
    warmupSeconds,
    seconds,
    timeoutMs,
    currency: 'EUR',
    connectConcurrency: 50,
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-bench-terminals-'));
  try {
    const ceilingRun = await bareEcho((url, underTest) => runFleet(dir, plan(url), underTest));
    const ceiling = ceilingRun.figures;
    let cpuBefore: Record<string, number> = {};
    let completedBefore = 0;
    const systemCpu = () =>
      Object.values(system.cpuSeconds()).reduce((sum, seconds) => sum + seconds, 0);
    const paidRun = await runFleet(dir, plan(system.mqttUrl), systemCpu, async () => {
      cpuBefore = system.cpuSeconds();
      completedBefore = await completedTerminalPayments(system);
      await resetStatements(system);
    });
    const paid = paidRun.figures;
    const cpu = cpuSpent(cpuBefore, system.cpuSeconds());
    // Per payment completed meanwhile: under overload the warm-up's backlog is processed in the
    // window too, and the measured payments' in the minutes after it.
    const completed = (await completedTerminalPayments(system)) - completedBefore;
    const statements = await countStatements(system, completed, 'terminal payment');

    const label = `${count} terminals, ${rate}/s`;
    const row = (group: string, figures: FleetFigures, of?: number): TableRow => ({
      group,
      label,
      rps: figures.succeededPerSecond,
      p50: figures.p50,
      p99: figures.p99,
      max: figures.max,
      errors: errorsOf(figures),
      ...(of ? { of } : {}),
    });
    const tableRows = [
      row('ceiling: bare aedes QoS 1 echo', ceiling),
      row('terminal payments', paid, ceiling.succeededPerSecond),
    ];
    printTable(
      `Terminal fleet: walk-in payments over MQTT (goal: ≥ 500 payments/s, p99 < 50 ms)`,
      tableRows,
      `${seconds}s measured after ${warmupSeconds}s warm-up, open loop`,
    );
    const notes: string[] = [];
    const out = (line: string) => {
      notes.push(line);
      process.stdout.write(`${line}\n`);
    };
    out(
      `terminals: ${count} registered in the users service's registry through the gateway ` +
        `(${registeredS.toFixed(1)} s), each verified by the broker at the users service as it ` +
        `connected; connected in ${paid.connectSeconds.toFixed(1)} s (bare aedes: ` +
        `${ceiling.connectSeconds.toFixed(1)} s), before the warm-up`,
    );
    out(
      `open loop: a payment due every ${(1000 / rate).toFixed(2)} ms, from terminal i mod ${count} ` +
        `(each pays every ${(count / rate).toFixed(1)} s, whether its last payment was answered or ` +
        `not), timed from when it was due to its terminal.result; cards: the approving test card ` +
        `encrypted for payments' key once per terminal before the run (reused by its payments), so ` +
        `the fleet's CPU goes to MQTT, not to ECDH`,
    );
    for (const [name, figures] of [
      ['bare aedes', ceiling],
      ['terminal payments', paid],
    ] as const) {
      out(
        `${name}: ${figures.measured} measured (${figures.offered.toFixed(0)}/s offered, sent at ` +
          `${figures.sentPerSecond.toFixed(0)}/s), ${figures.succeeded} answered success, ` +
          `failures ${JSON.stringify(figures.failures)}, ${figures.timeouts} timeouts (no answer ` +
          `within ${timeoutMs / 1000} s of being due; not in the percentiles), ` +
          `${figures.reconnections} connections lost`,
      );
    }
    out(othersLine('cpu, bare aedes run', ceilingRun));
    out(othersLine('cpu, terminal payments run', paidRun));
    out(
      `payments completed by payments from the window's start to the last answer or timeout: ` +
        `${completed} (${(completed / paidRun.wallSeconds).toFixed(0)}/s); per payment:`,
    );
    out(cpuLine('terminal payment', cpu, completed));
    out(statements.text);
    // null: nothing answered in time (NaN, as JSON over IPC).
    const p99 = typeof paid.p99 === 'number' ? `${paid.p99.toFixed(1)} ms` : '–';
    // Sustained: 500/s offered over the whole window and every one of them answered success in
    // time. (The rate answered is counted to the last answer, so a run that kept up reads a hair
    // under what was offered.)
    const met =
      paid.offered >= 500 &&
      paid.succeeded === paid.measured &&
      paid.p99 < 50 &&
      errorsOf(paid) === 0;
    out(
      `goal: ≥ 500 terminal payments/s, p99 < 50 ms: ${met ? 'met' : 'NOT met'} ` +
        `(${paid.succeededPerSecond.toFixed(0)}/s answered in time, p99 ${p99}, ` +
        `${errorsOf(paid)} failed or timed out; payments completed ` +
        `${(completed / paidRun.wallSeconds).toFixed(0)}/s meanwhile; bare aedes at the same rate: ` +
        `${ceiling.succeededPerSecond.toFixed(0)}/s, p99 ${ceiling.p99.toFixed(1)} ms)`,
    );
    return [
      {
        group: 'Terminal fleet',
        label:
          `${count} payment terminals, each connected as itself to Mercado’s broker, paying ` +
          `walk-in amounts at ${rate}/s in all (open loop, ${seconds} s after a ` +
          `${warmupSeconds} s warm-up), each timed from when it was due to its result. Its ` +
          'ceiling: the same fleet at the same rate on bare aedes with an echo client answering.',
        ceiling: {
          name: 'bare aedes QoS 1 echo, same fleet and rate',
          unit: 'payments/s',
          ...tableRows[0]!,
        },
        figures: [
          {
            ...tableRows[1]!,
            label: `terminal payments, ${rate}/s offered`,
            unit: 'payments/s',
            compare: 'p99',
          },
        ],
        notes,
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Terminal payments payments has recorded an outcome for (its database says so). */
async function completedTerminalPayments(system: BenchSystem): Promise<number> {
  const client = new pg.Client({ connectionString: system.databaseUrl('mercado_payments') });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `select count(*) as n from payments where method = 'card_present' and status <> 'processing'`,
    );
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

function errorsOf(figures: FleetFigures): number {
  return Object.values(figures.failures).reduce((sum, n) => sum + n, 0) + figures.timeouts;
}

/** Terminals registered as an admin registers one (`POST /api/terminals`), 8 at a time. */
async function registerTerminals(
  gatewayUrl: string,
  count: number,
): Promise<Array<{ terminalId: string; secret: string }>> {
  const admin = await loginAdmin(gatewayUrl);
  // Ids are never reused by the registry: a run of its own, in case one system runs this twice.
  const run = randomBytes(3).toString('hex');
  const registered = new Array<{ terminalId: string; secret: string }>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const index = next++;
        const terminalId = `fleet-${run}-${String(index).padStart(4, '0')}`;
        const answer = await postJson(gatewayUrl, '/api/terminals', admin, {
          id: terminalId,
          name: `Bench till ${index}`,
        });
        const secret = (answer.body as { secret?: string }).secret;
        if (answer.status !== 201 || !secret) {
          throw new Error(`bench: registering a terminal answered ${answer.status}`);
        }
        registered[index] = { terminalId, secret };
      }
    }),
  );
  return registered;
}

/** A fleet run: its figures, and the CPU the whole machine and the processes under test spent. */
interface FleetRun {
  figures: FleetFigures;
  /** From the measured window's start to the figures (the last answers, or the timeout). */
  wallSeconds: number;
  /** Core-seconds the machine was busy (every process) over that time. */
  machineCpuSeconds: number;
  /** Core-seconds the processes under test used over it (underTest's readings). */
  underTestCpuSeconds: number;
}

/**
 * Runs the fleet with this plan in its own process. `underTest` reads the CPU seconds the
 * processes under test have used so far: when the measured window starts (then `onMeasuring`
 * runs) and when the figures come.
 */
async function runFleet(
  dir: string,
  plan: FleetPlan,
  underTest: () => Promise<number> | number,
  onMeasuring: () => Promise<void> | void = () => undefined,
): Promise<FleetRun> {
  const file = path.join(dir, `fleet-${randomUUID()}.json`);
  await writeFile(file, JSON.stringify(plan));
  const child = spawnNode('terminal-fleet', './terminal-fleet.js', [file], {});
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const budgetMs =
    120_000 +
    (plan.warmupSeconds + plan.seconds) * 1000 +
    plan.timeoutMs +
    plan.terminals.length * 50;
  try {
    const answered = nextMessage<FleetMessage, 'figures'>(child, 'figures', budgetMs);
    answered.catch(() => undefined);
    await nextMessage<FleetMessage, 'measuring'>(child, 'measuring', budgetMs);
    const machineBefore = machineBusyMicros();
    const started = performance.now();
    const underTestBefore = await underTest();
    await onMeasuring();
    const { figures } = await answered;
    return {
      figures,
      wallSeconds: (performance.now() - started) / 1000,
      machineCpuSeconds: (machineBusyMicros() - machineBefore) / 1e6,
      underTestCpuSeconds: (await underTest()) - underTestBefore,
    };
  } finally {
    // It disconnects its terminals (presence offline) and exits by itself; never for long.
    const timer = setTimeout(() => void stopChild(child), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** How busy other processes kept the machine during a run, beside the fleet and what it measured. */
function othersLine(name: string, run: FleetRun): string {
  const { figures, wallSeconds } = run;
  const cores = os.cpus().length;
  const share = (seconds: number) => `${((seconds / wallSeconds) * 100).toFixed(0)}%`;
  const others = Math.max(
    0,
    run.machineCpuSeconds - run.underTestCpuSeconds - figures.clientCpuSeconds,
  );
  return (
    `${name}: of ${cores} cores (${cores * 100}%) over the ${wallSeconds.toFixed(1)} s from the ` +
    `window's start to the last answer or timeout, the processes under test used ` +
    `${share(run.underTestCpuSeconds)}, the fleet ${share(figures.clientCpuSeconds)}, other ` +
    `processes on the machine ${share(others)}` +
    (others / wallSeconds > 0.2 ? ' (a shared machine: the rates and latencies are low)' : '')
  );
}

/**
 * bare aedes in its own process (bench:broker's) and a plain echo client in this one answering
 * each terminal's request on its results topic, QoS 1 both ways, while `run` drives it.
 */
async function bareEcho(
  run: (url: string, underTest: () => Promise<number>) => Promise<FleetRun>,
): Promise<FleetRun> {
  const broker = await startBroker('bare', randomBytes(32).toString('base64url'));
  try {
    const echo = await connectMqtt(broker.url, {
      clientId: `echo-${process.pid}`,
      reconnectPeriod: 0,
    });
    try {
      await echo.subscribeAsync('terminals/+/requests', { qos: 1 });
      echo.on('message', (topic, payload) => {
        const request = JSON.parse(payload.toString('utf8')) as TerminalPaymentRequested;
        const result: TerminalResult = {
          type: 'terminal.result',
          id: randomUUID(),
          requestId: request.requestId,
          request: 'payment',
          result: 'success',
          transactionId: 'sbx_ch_echo',
          paymentId: randomUUID(),
          amountMinor: request.amountMinor,
          currency: request.currency,
          cardBrand: 'visa',
          cardLast4: '4242',
          at: new Date().toISOString(),
        };
        const terminalId = topic.split('/')[1]!;
        echo.publish(topics.terminalResults.build({ terminalId }), JSON.stringify(result), {
          qos: 1,
        });
      });
      const underTest = async () => {
        const own = process.cpuUsage();
        return ((await broker.usage()).cpuMicros + own.user + own.system) / 1e6;
      };
      return await run(broker.url, underTest);
    } finally {
      await echo.endAsync(true);
    }
  } finally {
    await broker.stop();
  }
}
