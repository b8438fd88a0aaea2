import { build, type Histogram } from 'hdr-histogram-js';

/**
 * What every open-loop load generator here shares (open-loop.ts, checkout-loop.ts,
 * terminal-fleet.ts): the schedule that starts work at fixed intervals whatever the earlier work
 * is doing, and the histograms that time it from when it was due.
 */

/** A latency histogram in microseconds, from 1 µs to `highestSeconds`, 3 significant digits. */
export function latencyHistogram(highestSeconds = 60): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: highestSeconds * 1_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** Microseconds from `since` (a process.hrtime.bigint()) to now, at least 1 (a histogram's floor). */
export function microsSince(since: bigint): number {
  return Math.max(1, Number((process.hrtime.bigint() - since) / 1000n));
}

/** A histogram's p50, p99 and max, in milliseconds. */
export function percentilesMs(histogram: Histogram): { p50: number; p99: number; max: number } {
  return {
    p50: histogram.getValueAtPercentile(50) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    max: histogram.maxValue / 1000,
  };
}

/**
 * Calls `start(due, index)` for index 0 … total − 1, the i-th due i/rate s after now, and returns
 * when the schedule began (hrtime, ns). Open loop: nothing waits for earlier work to finish, and
 * each start is told when it was due, so a stall counts against the figures instead of hiding
 * behind the work a waiting client did not send (coordinated omission).
 *
 * A 1 ms timer, not a busy loop: spinning on setImmediate kept to the schedule within tens of
 * microseconds but took a whole core from the system under test (half of this machine). Work that
 * fell due since the last tick starts at once and keeps its due time, so the generator's own
 * lateness (about a millisecond) counts against the figures, never for them.
 */
export function runSchedule(
  rate: number,
  total: number,
  start: (due: bigint, index: number) => void,
): bigint {
  const begun = process.hrtime.bigint();
  const intervalNs = 1e9 / rate;
  const dueAt = (index: number) => begun + BigInt(Math.round(index * intervalNs));
  let started = 0;
  const tick = () => {
    const now = process.hrtime.bigint();
    while (started < total && dueAt(started) <= now) {
      start(dueAt(started), started);
      started++;
    }
    if (started < total) setTimeout(tick, 1);
  };
  tick();
  return begun;
}
