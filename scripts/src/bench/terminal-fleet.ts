import { readFileSync } from 'node:fs';
import type { TerminalPaymentRequested, TerminalResult } from '@mercado/common/contract';
import { connectTerminal, newRequestId, type TerminalConnection } from '../terminal/index.js';
import { latencyHistogram, microsSince, percentilesMs, runSchedule } from './schedule.js';

/**
 * The terminal fleet, run as its own process by bench:terminals (bench/terminals.ts): many
 * payment terminals, each connected as itself with the terminal simulator's library (client id
 * `terminal-{id}`, its secret, its results and payments' keys subscribed, presence online), all
 * connected before anything is timed. Then walk-in payments go out open loop at `rate` per second
 * in total, request i from terminal i mod their number (each terminal pays every
 * terminals/rate s), whatever earlier answers are doing — a terminal whose last payment is still
 * unanswered pays the next one anyway, so a stall is never hidden behind payments not sent — and
 * each is timed from when it was due to its `terminal.result`. `warmupSeconds` of the schedule
 * warm up; once their answers are in (or timed out), `seconds` more are measured, on the same
 * schedule from an idle system.
 *
 * The cards are encrypted before the run (the plan's `cards`, one per terminal, reused by each of
 * its payments: a JWE carries no nonce payments checks), so the fleet's CPU goes to MQTT, not to
 * ECDH: a real terminal encrypts each card it reads, on its own CPU, not this machine's.
 *
 * argv: plan.json (FleetPlan). IPC (parent → nothing; child →): `{ type: 'measuring' }` when the
 * measured window starts, then `{ type: 'figures', figures: FleetFigures }` once every measured
 * payment was answered or `timeoutMs` passed after the last was due; it then disconnects and exits.
 */

export interface FleetPlan {
  url: string;
  terminals: Array<{ id: string; secret: string }>;
  /** A card JWE per terminal (terminal i pays with cards[i mod their number]). */
  cards: string[];
  rate: number;
  warmupSeconds: number;
  seconds: number;
  /** An answer later than this after its payment was due counts as a timeout. */
  timeoutMs: number;
  currency: string;
  /** Terminals connecting at once. */
  connectConcurrency: number;
}

export type FleetMessage = { type: 'measuring' } | { type: 'figures'; figures: FleetFigures };

export interface FleetFigures {
  terminals: number;
  connectSeconds: number;
  /** Measured payments, and those due per second over the window. */
  measured: number;
  offered: number;
  /** How fast the measured payments were actually published (the generator keeping up). */
  sentPerSecond: number;
  succeeded: number;
  /** Answered `success`, per second from the window's start to its end or the last answer. */
  succeededPerSecond: number;
  /** Answered `failure`, by errorCondition (`publish_failed`: the broker never acknowledged it). */
  failures: Record<string, number>;
  /** No answer within timeoutMs of being due (late answers included). */
  timeouts: number;
  /** Every answer in time, success or failure, from when its payment was due, ms (NaN: none). */
  p50: number;
  p99: number;
  max: number;
  /** Connections lost and made again during the run. */
  reconnections: number;
  /** From the measured window's start to its end or the last answer, whichever came later. */
  spanSeconds: number;
  /** The fleet's own CPU time over that span. */
  clientCpuSeconds: number;
}

const [planFile] = process.argv.slice(2);
if (!planFile || !process.send) {
  process.stderr.write('usage: terminal-fleet plan.json (as a child process with IPC)\n');
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planFile, 'utf8')) as FleetPlan;
const send = (message: FleetMessage) => process.send!(message);

let reconnections = 0;
const connectStarted = process.hrtime.bigint();
const fleet: TerminalConnection[] = new Array<TerminalConnection>(plan.terminals.length);
let nextToConnect = 0;
await Promise.all(
  Array.from({ length: plan.connectConcurrency }, async () => {
    while (nextToConnect < plan.terminals.length) {
      const index = nextToConnect++;
      const { id, secret } = plan.terminals[index]!;
      fleet[index] = await connectTerminal({
        url: plan.url,
        terminalId: id,
        secret,
        onEvent: (event) => {
          if (event.startsWith('connection lost')) reconnections++;
        },
      });
    }
  }),
);
const connectSeconds = microsSince(connectStarted) / 1e6;

const warmups = Math.round(plan.rate * plan.warmupSeconds);
const measured = Math.round(plan.rate * plan.seconds);
const latencies = latencyHistogram();
const failures: Record<string, number> = {};
let succeeded = 0;
let timeouts = 0;
let settled = 0;
let lastAnswer = 0n;
let lastSent = 0n;

/** Walk-in amounts from 1.00 to 99.99, varied so no two neighbours pay the same. */
const amountOf = (index: number) => 100 + ((index * 7_919) % 9_900);

/** Pays one walk-in amount from terminal index mod their number; its answer or a failure. */
function pay(index: number): Promise<TerminalResult | 'publish_failed'> {
  const terminalIndex = index % fleet.length;
  const terminal = fleet[terminalIndex]!;
  const request: TerminalPaymentRequested = {
    type: 'terminal.payment_requested',
    requestId: newRequestId(),
    amountMinor: amountOf(index),
    currency: plan.currency,
    card: plan.cards[terminalIndex % plan.cards.length]!,
  };
  const answered = terminal.answerTo(request.requestId);
  return terminal.publish(request).then(
    () => answered,
    () => 'publish_failed' as const,
  );
}

/**
 * Runs `count` payments on the schedule from payment `first` on; resolves once each was settled,
 * or timeoutMs after the last was due (the others are timeouts).
 */
function schedule(
  first: number,
  count: number,
  settle: (due: bigint, answer: TerminalResult | 'publish_failed') => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let done = 0;
    const timer = setTimeout(resolve, (count / plan.rate) * 1000 + plan.timeoutMs);
    runSchedule(plan.rate, count, function due(at, index) {
      if (index === count - 1) lastSent = process.hrtime.bigint();
      void pay(first + index).then((answer) => {
        settle(at, answer);
        if (++done === count) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  });
}

// The warm-up, then a pause until its answers are in (or timed out): a terminal's first payment
// opens its period, and the backlog those leave must not be what the window measures.
await schedule(0, warmups, () => undefined);
const windowStart = process.hrtime.bigint();
const cpuAtStart = process.cpuUsage();
send({ type: 'measuring' });
await schedule(warmups, measured, function settle(due, answer) {
  settled++;
  const micros = microsSince(due);
  if (micros > plan.timeoutMs * 1000) timeouts++;
  else if (answer === 'publish_failed') {
    failures.publish_failed = (failures.publish_failed ?? 0) + 1;
  } else {
    latencies.recordValue(micros);
    lastAnswer = process.hrtime.bigint();
    if (answer.result === 'success') succeeded++;
    else {
      const condition = answer.errorCondition ?? 'failure';
      failures[condition] = (failures[condition] ?? 0) + 1;
    }
  }
});
// Unanswered timeoutMs after the last was due: never in time.
timeouts += measured - settled;
const cpu = process.cpuUsage(cpuAtStart);
const windowSeconds = plan.seconds;
const answeredSeconds = lastAnswer > windowStart ? Number(lastAnswer - windowStart) / 1e9 : 0;
const spanSeconds = Math.max(windowSeconds, answeredSeconds);
const answered = latencies.totalCount > 0;
const figures: FleetFigures = {
  terminals: fleet.length,
  connectSeconds,
  measured,
  offered: measured / windowSeconds,
  sentPerSecond: lastSent > windowStart ? measured / (Number(lastSent - windowStart) / 1e9) : 0,
  succeeded,
  succeededPerSecond: succeeded / spanSeconds,
  failures,
  timeouts,
  ...(answered ? percentilesMs(latencies) : { p50: NaN, p99: NaN, max: NaN }),
  reconnections,
  spanSeconds,
  clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
};
send({ type: 'figures', figures });
await Promise.all(fleet.map((terminal) => terminal.close()));
process.exit(0);
