import * as prettier from 'prettier';
import t from 'tap';
import { parseWrk } from '../src/bench/ceilings.js';
import { loopback } from '../src/bench/loopback.js';
import {
  createReport,
  machineLine,
  ratio,
  type Ceiling,
  type Machine,
  type RunFacts,
} from '../src/bench/report.js';

/**
 * The benchmark report's writer (scripts/src/bench/report.ts): given rows, the markdown it
 * renders — the machine line, each figure beside its ceiling, the ratio. No speed is asserted.
 */

const machine: Machine = {
  cpu: 'Intel(R) Xeon(R) CPU @ 2.20GHz',
  cores: 2,
  memoryBytes: 24 * 1024 ** 3,
  os: 'Debian GNU/Linux 12 (bookworm) (Linux 6.1.0)',
  node: 'v20.20.2',
  postgres: '17.6',
  nginx: '1.22.1',
  tools: { wrk: '4.1.0' },
};

const facts: RunFacts = {
  machine,
  startedAt: new Date('2026-12-04T19:30:00Z'),
  totalSeconds: 605.4,
  benchSeconds: 5,
  warmupSeconds: 1,
  steps: [
    { name: 'gateway', seconds: 42.2 },
    { name: 'broker', seconds: 563.2 },
  ],
  othersCpuShare: 0.35,
  note: 'Shared with two other engineers running tests',
  origins: 14,
};

const express: Ceiling = {
  name: 'Express trivial upstream',
  rps: 9000,
  p50: 4.2,
  p99: 11,
  errors: 0,
};

t.test('the machine line names CPU, cores, memory, OS, Node, Postgres, nginx', async (t) => {
  t.equal(
    machineLine(machine),
    '2 × Intel(R) Xeon(R) CPU @ 2.20GHz, 24.0 GiB memory, Debian GNU/Linux 12 (bookworm) ' +
      '(Linux 6.1.0), Node v20.20.2, PostgreSQL 17.6, nginx 1.22.1, wrk 4.1.0',
  );
});

t.test('the ratio: a share of the rate, or a multiple of the p99 at a fixed rate', async (t) => {
  t.equal(ratio({ label: 'max', rps: 6750 }, express), '75%');
  t.equal(ratio({ label: 'max', rps: 450 }, express), '5.0%', 'small shares keep a decimal');
  t.equal(ratio({ label: 'at rate', rps: 1000, p99: 27.5, compare: 'p99' }, express), 'p99 ×2.5');
  t.equal(ratio({ label: 'slow', p99: 5610, compare: 'p99' }, express), 'p99 ×510', 'no decimal');
  t.equal(
    ratio({ label: 'nothing answered', rps: 0, p99: Number.NaN, compare: 'p99' }, express),
    '–',
  );
  t.equal(ratio({ label: 'no ceiling', rps: 1 }, undefined), '');
});

t.test('a report renders each section beside its ceiling, and the run facts', async (t) => {
  const report = createReport();
  report.addCeiling(
    { name: 'nginx static file (wrk)', rps: 41234.5, p50: 0.9, p99: 4.1, errors: 0 },
    'anything through nginx',
  );
  report.add({
    group: 'Gateway',
    label: 'Through the gateway.',
    ceiling: express,
    figures: [
      { label: 'GET /api/users/me: gateway', rps: 4500.4, p50: 10, p99: 22.5, errors: 0 },
      {
        label: 'GET /api/users/me: 1,000 req/s',
        rps: 999.7,
        p50: 1.5,
        p99: 5.25,
        errors: 2,
        compare: 'p99',
        ceiling: {
          name: 'gateway | trivial at 1,000 req/s',
          rps: 1000,
          p50: 1.2,
          p99: 3.5,
          errors: 0,
        },
      },
      { label: 'reference row', rps: 1000, p50: 1, p99: 2, errors: 0, ceiling: null },
    ],
    notes: ['cpu per request: 0.20 ms'],
  });
  report.add({
    group: 'Storefront first render',
    ceiling: { name: 'bare static page', p50: 44, p99: 76 },
    figures: [{ label: 'catalog, cold', unit: 'loads', p50: 291, p99: 389, compare: 'p99' }],
  });
  const markdown = report.render(facts);
  t.equal(
    markdown,
    `# Benchmarks

<!-- Written by \`npm run bench\` (scripts/src/bench.ts); run it again rather than edit this. -->

Measured 2026-12-04 19:30 UTC by \`npm run bench\`, 5 s per measurement (BENCH_SECONDS) after a 1 s warm-up (BENCH_WARMUP), 10 min 5 s in all.

Machine: 2 × Intel(R) Xeon(R) CPU @ 2.20GHz, 24.0 GiB memory, Debian GNU/Linux 12 (bookworm) (Linux 6.1.0), Node v20.20.2, PostgreSQL 17.6, nginx 1.22.1, wrk 4.1.0.

Other processes on the machine used 35% of its 2 cores over the run (a shared machine: the figures are lower and noisier). Shared with two other engineers running tests.

Traffic: every URL the run opened (14 origins) was on 127.0.0.1, asserted before each was opened.

Each figure stands beside a ceiling measured in the same run: the most this machine gives that kind of work with none of Mercado in the way. The ratio is the figure’s rate as a share of the ceiling’s for runs that go as fast as they can, and its p99 as a multiple of the ceiling’s (\`p99 ×n\`) for runs at a fixed offered rate, where the rate is the one asked for. Figures only: nothing here passes or fails.

## Ceilings

| ceiling                           | rate         | p50 ms | p99 ms | errors | ceiling of              |
| --------------------------------- | ------------ | ------ | ------ | ------ | ----------------------- |
| nginx static file (wrk)           | 41,235 req/s | 0.90   | 4.10   | 0      | anything through nginx  |
| Express trivial upstream          | 9,000 req/s  | 4.20   | 11.0   | 0      | Gateway                 |
| gateway \\| trivial at 1,000 req/s | 1,000 req/s  | 1.20   | 3.50   | 0      | Gateway                 |
| bare static page                  | –            | 44.0   | 76.0   | –      | Storefront first render |

## Gateway

Through the gateway.

| figure                         | rate        | p50 ms | p99 ms | errors | ceiling (same run)                                          | ratio    |
| ------------------------------ | ----------- | ------ | ------ | ------ | ----------------------------------------------------------- | -------- |
| GET /api/users/me: gateway     | 4,500 req/s | 10.0   | 22.5   | 0      | Express trivial upstream: 9,000 req/s, p99 11.0 ms          | 50%      |
| GET /api/users/me: 1,000 req/s | 1,000 req/s | 1.50   | 5.25   | 2      | gateway \\| trivial at 1,000 req/s: 1,000 req/s, p99 3.50 ms | p99 ×1.5 |
| reference row                  | 1,000 req/s | 1.00   | 2.00   | 0      |                                                             |          |

- cpu per request: 0.20 ms

## Storefront first render

| figure        | rate | p50 ms | p99 ms | errors | ceiling (same run)            | ratio    |
| ------------- | ---- | ------ | ------ | ------ | ----------------------------- | -------- |
| catalog, cold | –    | 291    | 389    | –      | bare static page: p99 76.0 ms | p99 ×5.1 |

## Time

| step    | took       |
| ------- | ---------- |
| gateway | 42 s       |
| broker  | 9 min 23 s |
| total   | 10 min 5 s |
`,
  );
  // The report is committed: it must already be as Prettier would write it.
  const options = (await prettier.resolveConfig('docs/benchmarks.md')) ?? {};
  t.equal(
    await prettier.format(markdown, { ...options, parser: 'markdown' }),
    markdown,
    'prettier',
  );
});

t.test('traffic only to 127.0.0.1: any other host is refused before it is opened', async (t) => {
  t.equal(loopback('http://127.0.0.1:8080/api'), 'http://127.0.0.1:8080/api');
  t.equal(loopback('mqtt://127.0.0.1:1883'), 'mqtt://127.0.0.1:1883');
  for (const url of ['http://localhost:8080/', 'http://10.0.0.5/', 'https://example.com/']) {
    t.throws(() => loopback(url), /127\.0\.0\.1 only/, url);
  }
  t.throws(
    () => loopback('postgres://postgres:s3cret@192.168.1.9:5432/db'),
    { message: /^bench: refusing postgres:\/\/192\.168\.1\.9:5432: / },
    'the password never reaches the message',
  );
});

t.test("wrk's summary is read: requests/s, p50 and p99 in ms, errors", async (t) => {
  const output = `Running 5s test @ http://127.0.0.1:18089/index.html
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.36ms   11.37ms 120.27ms   95.71%
  Latency Distribution
     50%  656.00us
     75%    1.74ms
     90%    4.48ms
     99%   71.50ms
  160459 requests in 3.06s, 36.27MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  52427.82
Transfer/sec:     11.85MB
`;
  t.same(parseWrk(output), { rps: 52427.82, p50: 0.656, p99: 71.5, errors: 7 });
});
