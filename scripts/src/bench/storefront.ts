import http from 'node:http';
import { build } from 'hdr-histogram-js';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../chromium.js';
import { loopback } from './loopback.js';
import type { ReportSection } from './report.js';
import { percentilesMs } from './schedule.js';
import { loadBenchDemo, type BenchSystem } from './system.js';

/**
 * The storefront in headless Chromium (the goal: the catalog's first render under 1 s,
 * JS + CSS under 250 KB compressed on the home page): BENCH_STOREFRONT_LOADS (20) loads of `/`,
 * each in a fresh browser context (a cold cache: every asset fetched), timed by the page itself
 * from the navigation's start to the first animation frame in which a product card is visible,
 * and the bytes its scripts and stylesheets took on the wire. Then the same with a warm cache
 * (one context, reloaded). Beside them, the ceiling in the same run: a bare static page from
 * node:http whose card is in its HTML, the browser's own floor for "navigate and paint".
 */
const loads = Number(process.env.BENCH_STOREFRONT_LOADS ?? 20);

/** Watches every frame from the document's start; records when `[data-product]` shows. */
const watcher = `(() => {
  const look = () => {
    const card = document.querySelector('[data-product]');
    if (card && card.checkVisibility()) window.__firstRender = performance.now();
    else requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
})();`;

interface Load {
  ms: number;
  scriptBytes: number;
  styleBytes: number;
}

async function timeLoads(browser: Browser, url: string, warm: boolean): Promise<Load[]> {
  const results: Load[] = [];
  const shared = warm ? await browser.newContext() : undefined;
  if (shared) {
    await shared.addInitScript(watcher);
    const first = await shared.newPage();
    await first.goto(url, { waitUntil: 'load' });
    await first.close();
  }
  for (let index = 0; index < loads; index++) {
    const context = shared ?? (await browser.newContext());
    if (!shared) await context.addInitScript(watcher);
    const page = await context.newPage();
    let scriptBytes = 0;
    let styleBytes = 0;
    const sized: Array<Promise<void>> = [];
    page.on('requestfinished', (request) => {
      const type = request.resourceType();
      if (type !== 'script' && type !== 'stylesheet') return;
      sized.push(
        request.sizes().then((sizes) => {
          // From the cache: nothing on the wire (Playwright says -1).
          const bytes = Math.max(0, sizes.responseBodySize);
          if (type === 'script') scriptBytes += bytes;
          else styleBytes += bytes;
        }),
      );
    });
    await page.goto(loopback(url), { waitUntil: 'load' });
    const ms = (await (
      await page.waitForFunction(() => (globalThis as { __firstRender?: number }).__firstRender)
    ).jsonValue()) as number;
    await page.waitForLoadState('networkidle');
    await Promise.all(sized);
    results.push({ ms, scriptBytes, styleBytes });
    await page.close();
    if (!shared) await context.close();
  }
  await shared?.close();
  return results;
}

function percentiles(results: Load[]) {
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000 });
  for (const result of results) histogram.recordValue(Math.max(1, Math.round(result.ms * 1000)));
  // Recorded in microseconds: percentilesMs gives milliseconds.
  return percentilesMs(histogram);
}

function summary(label: string, results: Load[]): string {
  const { p50, p99, max } = percentiles(results);
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const last = results.at(-1)!;
  return (
    `${label.padEnd(44)} p50 ${p50.toFixed(0).padStart(5)} ms  p99 ${p99.toFixed(0).padStart(5)} ms  ` +
    `max ${max.toFixed(0).padStart(5)} ms  JS ${kb(last.scriptBytes)} + CSS ${kb(last.styleBytes)} on the wire`
  );
}

export async function benchStorefront(system: BenchSystem): Promise<ReportSection[]> {
  await loadBenchDemo(system);
  const bare = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
    res.end(
      '<!doctype html><html lang="en"><meta charset="utf-8"><title>bare</title>' +
        '<div data-product>a card</div></html>',
    );
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}/`;
  const browser = await launchChromium();
  try {
    const cold = await timeLoads(browser, `${system.gatewayUrl}/`, false);
    const warmLoads = await timeLoads(browser, `${system.gatewayUrl}/`, true);
    const ceiling = await timeLoads(browser, bareUrl, false);
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(
      `\nStorefront in headless Chromium ${browser.version()} (goal: catalog's first render < 1 s, ` +
        `JS + CSS < 250 KB compressed): ${loads} loads each, first render = navigation start → ` +
        'first frame with a product card visible',
    );
    out(summary('catalog /, cold cache (fresh context)', cold));
    out(summary('catalog /, warm cache (reloads)', warmLoads));
    out(summary('ceiling: bare static page (node:http)', ceiling));
    const last = cold.at(-1)!;
    const total = last.scriptBytes + last.styleBytes;
    const p99 = [...cold].sort((a, b) => a.ms - b.ms)[Math.ceil(cold.length * 0.99) - 1]!.ms;
    out(
      `goal: first render < 1 s, JS + CSS < 250 KB: ${p99 < 1000 && total < 250 * 1024 ? 'met' : 'NOT met'} ` +
        `(cold p99 ${p99.toFixed(0)} ms, ${(total / 1024).toFixed(1)} KB)`,
    );
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
    const figure = (label: string, results: Load[]) => ({
      label,
      ...percentiles(results),
      unit: 'loads',
      compare: 'p99' as const,
    });
    return [
      {
        group: 'Storefront first render',
        label:
          `The catalog (\`/\`, the demo shop) in headless Chromium ${browser.version()}, ${loads} ` +
          'loads each, timed from the navigation’s start to the first frame with a product card ' +
          'visible (there is no rate: p50 and p99 are of those loads). Its ceiling: a bare static ' +
          'page from node:http whose card is in its HTML.',
        ceiling: { name: 'bare static page (node:http)', ...percentiles(ceiling) },
        figures: [
          figure('catalog `/`, cold cache (fresh context)', cold),
          figure('catalog `/`, warm cache (reloads)', warmLoads),
        ],
        notes: [
          `JS + CSS on the wire, cold: ${kb(last.scriptBytes)} + ${kb(last.styleBytes)} (compressed)`,
        ],
      },
    ];
  } finally {
    await browser.close();
    await new Promise((resolve) => bare.close(resolve));
  }
}
