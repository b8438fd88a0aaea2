import { readFileSync } from 'node:fs';
import http from 'node:http';
import { build } from 'hdr-histogram-js';

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
const latencies = build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 60_000_000,
  numberOfSignificantValueDigits: 3,
});
const intervalNs = 1e9 / rate;
let sent = 0;
let settled = 0;
let errors = 0;
/** Answers by status (0: no answer), to tell what the errors were. */
const statuses: Record<string, number> = {};
const start = process.hrtime.bigint();
const dueAt = (index: number) => start + BigInt(Math.round(index * intervalNs));

await new Promise<void>(function run(resolve) {
  const finish = (due: bigint, ok: boolean, status = 0) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    latencies.recordValue(Math.max(1, Number((process.hrtime.bigint() - due) / 1000n)));
    if (!ok) errors++;
    if (++settled === total) resolve();
  };
  const send = (due: bigint, index: number) => {
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
  };
  // A 1 ms timer, not a busy loop: spinning on setImmediate kept to the schedule within tens of
  // microseconds but took a whole core from the system under test (half of this machine).
  // Requests that fell due since the last tick are sent at once and keep their due time, so the
  // generator's own lateness (about a millisecond) counts against the figures, never for them.
  const tick = () => {
    const now = process.hrtime.bigint();
    while (sent < total && dueAt(sent) <= now) {
      send(dueAt(sent), sent);
      sent++;
    }
    if (sent < total) setTimeout(tick, 1);
  };
  tick();
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
