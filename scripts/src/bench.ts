/**
 * `npm run bench`: every benchmark, one system, one run, written to docs/benchmarks.md
 * (bench/run-all.ts). BENCH_SECONDS per measurement is 5 here unless set, after a BENCH_WARMUP of
 * 1 s (the bench:* commands take 10 and 2), which keeps the whole run near ten minutes on two cores.
 */
process.env.BENCH_SECONDS ??= '5';
process.env.BENCH_WARMUP ??= '1';
// Imported after the default is set: the benchmarks read BENCH_SECONDS as they load.
const { runAll } = await import('./bench/run-all.js');
await runAll();
