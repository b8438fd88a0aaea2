import { readFileSync } from 'node:fs';
import http from 'node:http';
import { latencyHistogram, microsSince, runSchedule } from './schedule.js';

/**
 * An open-loop load generator, run as its own process by measureAtRate: it sends requests at a
 * fixed rate whatever the answers do, and times each one from the moment it was due, not from
 * when it went out. A closed-loop tool (a connection waits for its answer before sending the
 * next) hides every stall behind the requests it did not send — coordinated omission — and, with
 * per-connection timers, adds its own scheduling jitter; this is what wrk2 does, in Node.
 *
 * argv: url rate seconds [header:value ...] — GET `url` every time; or url rate seconds @file —
 * the requests of a JSON file (`[{ method, path, headers?, body?, expect? }]`, `path` joined to
 * `url`), each in turn: one payment per order, say. A request counts as an error unless it
 * answers `expect` (200 by default). Prints one JSON line of figures, with the answers by status.
 */
const [url, rateArgument, secondsArgument, ...headerArguments] = process.argv.slice(2);
if (!url || !rateArgument || !secondsArgument) {
  process.stderr.write('usage: open-loop URL RATE SECONDS [name:value ...]\n');
  process.exit(2);
}
const rate = Number(rateArgument);
const total = Math.round(rate * Number(secondsArgument));
interface PlannedRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  expect?: number;
}
const fromFile = headerArguments[0]?.startsWith('@') ? headerArguments[0].slice(1) : undefined;
const planned: PlannedRequest[] = fromFile
  ? (JSON.parse(readFileSync(fromFile, 'utf8')) as PlannedRequest[])
  : [
      {
        method: 'GET',
        path: '',
        headers: Object.fromEntries(
          headerArguments.map((pair) => [
            pair.slice(0, pair.indexOf(':')),
            pair.slice(pair.indexOf(':') + 1),
          ]),
        ),
      },
    ];
if (planned.length === 0) throw new Error('open-loop: no requests');
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const latencies = latencyHistogram();
let settled = 0;
let errors = 0;
/** Answers by status (0: none), to tell what the errors were. */
const statuses: Record<string, number> = {};
let start = 0n;

await new Promise<void>(function run(resolve) {
  const finish = (due: bigint, ok: boolean, status = 0) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    latencies.recordValue(microsSince(due));
    if (!ok) errors++;
    if (++settled === total) resolve();
  };
  start = runSchedule(rate, total, function send(due, index) {
    const plan = planned[index % planned.length]!;
    const request = http.request(
      `${url}${plan.path}`,
      { method: plan.method, agent, headers: plan.headers ?? {} },
      function onResponse(response) {
        response.resume();
        response.once('end', () =>
          finish(due, response.statusCode === (plan.expect ?? 200), response.statusCode),
        );
      },
    );
    request.once('error', () => finish(due, false));
    request.end(plan.body);
  });
});
agent.destroy();
const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
const ms = (percentile: number) => latencies.getValueAtPercentile(percentile) / 1000;
process.stdout.write(
  `${JSON.stringify({
    rps: total / elapsedS,
    p50: ms(50),
    p99: ms(99),
    p999: ms(99.9),
    max: latencies.maxValue / 1000,
    errors,
    statuses,
  })}\n`,
);
