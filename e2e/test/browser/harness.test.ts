import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import {
  checkAccessibility,
  firstRenderMs,
  launchBrowser,
  openPage,
  screenshot,
  transferredBytes,
  type PageTestContext,
  type TeardownContext,
} from './harness.js';

/**
 * The browser harness against small pages served here, each made to do one thing a guard must
 * catch or let through: a clean page, errors in the console, requests and WebSockets to other
 * origins, pages with and without accessible names, a gzipped bundle, a phone's viewport. A
 * second server on another origin stands for the outside world and counts what reaches it:
 * nothing, unless the page was allowed to talk to it.
 */

interface Fixture {
  status?: number;
  headers?: Record<string, string>;
  body: string | Buffer;
}

interface FixtureServer {
  /** `http://127.0.0.1:<port>` (or `localhost`, as the foreign origin's name). */
  url: string;
  pages: Map<string, Fixture>;
  /** Every request and WebSocket upgrade that reached it, by path. */
  hits: string[];
}

const pixel = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);

/** A page as the shop's are: a language, a title, a phone's viewport, a main landmark. */
function html(title: string, body: string, head = ''): Fixture {
  return {
    headers: { 'content-type': 'text/html; charset=utf-8' },
    body:
      '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
      '<meta name="viewport" content="width=device-width, initial-scale=1">' +
      `<title>${title}</title>${head}</head><body><main><h1>${title}</h1>${body}</main></body></html>`,
  };
}

/**
 * Serves `pages` by path (404 otherwise), and accepts WebSockets at `/live` (the handshake only:
 * a page sees its socket open).
 */
async function serveFixtures(t: TeardownContext, host = '127.0.0.1'): Promise<FixtureServer> {
  const pages = new Map<string, Fixture>([
    ['/pixel.png', { headers: { 'content-type': 'image/png' }, body: pixel }],
  ]);
  const hits: string[] = [];
  const server = http.createServer(function fixture(req, res) {
    hits.push(req.url!);
    const page = pages.get(req.url!) ?? { status: 404, body: 'not here' };
    res.writeHead(page.status ?? 200, { 'content-length': page.body.length, ...page.headers });
    res.end(page.body);
  });
  // Upgraded sockets leave the server's connections: closing it must end them itself.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req, socket) => {
    hits.push(`upgrade ${req.url}`);
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    if (req.url !== '/live') return socket.destroy();
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    for (const socket of upgraded) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, pages, hits };
}

interface Asserted {
  found: unknown;
  message: string | undefined;
}

/**
 * A stand-in for a tap test that records the guards' assertions instead of failing on them,
 * and `end()`s as tap ends a test: the hook before the plan closes, then the teardowns.
 */
function recordingTest(): PageTestContext & { asserted: Asserted[]; end(): Promise<void> } {
  const core = { onbeforeend: (): unknown => undefined };
  const teardowns: Array<() => unknown> = [];
  const asserted: Asserted[] = [];
  return {
    t: core,
    asserted,
    teardown: (fn) => void teardowns.push(fn),
    same(found, _wanted, message) {
      asserted.push({ found, message });
      return true;
    },
    fail(message) {
      asserted.push({ found: undefined, message });
      return false;
    },
    async end() {
      await core.onbeforeend();
      for (const fn of teardowns.reverse()) await fn();
    },
  };
}

const browser = await launchBrowser(t);
const shop = await serveFixtures(t);
const outside = await serveFixtures(t, 'localhost');

shop.pages.set(
  '/clean',
  html(
    'Clean',
    '<p>Nothing wrong here.</p><img src="/pixel.png" alt="A pixel">' +
      '<script>const live = new WebSocket(`ws://${location.host}/live`);' +
      'live.onopen = () => (document.body.dataset.live = "open");</script>',
  ),
);
shop.pages.set(
  '/broken',
  html(
    'Broken',
    '<script>console.error("broken thing"); throw new Error("uncaught boom");</script>',
  ),
);
shop.pages.set(
  '/refused',
  html(
    'Refused',
    '<script>fetch("/api/cart").then((answer) => answer.text()).then(() => {' +
      'console.error("expected: the cart is empty"); document.body.dataset.shown = "yes"; });' +
      '</script>',
  ),
);
shop.pages.set(
  '/foreign',
  html(
    'Foreign',
    '<img src="http://example.invalid/x.png" alt="x">' +
      `<img src="${outside.url}/y.png" alt="y">` +
      '<script>let closed = 0;' +
      `for (const url of ["ws://10.255.255.1/", "${outside.url.replace('http', 'ws')}/live"]) {` +
      '  new WebSocket(url).onclose = () => { if (++closed === 2) document.body.dataset.closed = "yes"; };' +
      '}' +
      `fetch("${outside.url}/api").catch(() => undefined)` +
      '.finally(() => (document.body.dataset.fetched = "yes"));</script>',
    `<link rel="preload" as="style" href="${outside.url}/p.css">`,
  ),
);
shop.pages.set(
  '/allowed-outside',
  html(
    'Allowed outside',
    `<script src="${outside.url}/allowed.js"></script>` +
      `<script>new WebSocket("${outside.url.replace('http', 'ws')}/live").onopen = () =>` +
      ' (document.body.dataset.live = "open");</script>',
  ),
);
outside.pages.set('/allowed.js', {
  headers: { 'content-type': 'text/javascript' },
  body: 'document.body.dataset.allowed = "yes";',
});

t.test('a clean page passes: no console error, no foreign request', async (t) => {
  const page = await openPage(t, browser, shop.url);
  await page.goto('/clean');
  // Its own origin's WebSocket is no foreign request, and is let through.
  await page.page.waitForSelector('body[data-live="open"]', { state: 'attached' });
  t.same(await page.problems(), []);
  t.same(page.consoleErrors, []);
  t.same(page.foreignRequests, []);
  t.same(page.blockedRequests, []);
  t.ok(shop.hits.includes('upgrade /live'), 'the WebSocket reached its server');
});

t.test('console errors and uncaught exceptions are caught', async (t) => {
  const page = await openPage(t, browser, shop.url, { assertOnTeardown: false });
  await page.goto('/broken');
  const problems = await page.problems();
  t.equal(problems.length, 2, problems.join('\n'));
  t.match(problems[0], /^console: broken thing \(http:\/\/127\.0\.0\.1:\d+\/broken:\d+\)$/);
  t.match(problems[1], /^uncaught: Error: uncaught boom/);
});

t.test('the guards fail the test at its end, listing the offenders', async (t) => {
  const recorder = recordingTest();
  const page = await openPage(recorder, browser, shop.url);
  await page.goto('/broken');
  await page.page.evaluate('new Image().src = "http://example.invalid/late.png"');
  t.same(recorder.asserted, [], 'nothing is asserted before the test ends');
  await recorder.end();
  t.match(recorder.asserted, [
    { message: /no console errors or uncaught exceptions on http:\/\/127\.0\.0\.1:/, found: [] },
    { message: /no request left http:\/\/127\.0\.0\.1:/, found: [] },
  ]);
  const [errors, requests] = recorder.asserted.map((each) => each.found as string[]);
  t.match(errors, [/^console: broken thing/, /^uncaught: Error: uncaught boom/]);
  t.same(requests, ['http://example.invalid/late.png']);
  t.ok(page.page.isClosed(), 'the page was closed at the end');
});

t.test('an allowed error and an allowed failed response are let through', async (t) => {
  const page = await openPage(t, browser, shop.url);
  page.allowConsoleError(/^expected: /);
  page.allowFailedResponse('/api/cart', 404);
  const failedLoad = page.page.waitForEvent('console', (message) =>
    message.text().includes('status of 404'),
  );
  await page.goto('/refused');
  await failedLoad;
  await page.page.waitForSelector('body[data-shown]', { state: 'attached' });
  t.same(await page.problems(), []);
});

t.test('a failed response is caught unless that URL and status are allowed', async (t) => {
  const allowances: Array<[string, number] | undefined> = [
    undefined,
    ['/api/other', 404],
    ['/api/cart', 500],
  ];
  for (const allowance of allowances) {
    const page = await openPage(t, browser, shop.url, { assertOnTeardown: false });
    page.allowConsoleError(/^expected: /);
    if (allowance) page.allowFailedResponse(...allowance);
    const failedLoad = page.page.waitForEvent('console', (message) =>
      message.text().includes('status of 404'),
    );
    await page.goto('/refused');
    await failedLoad;
    t.match(
      await page.problems(),
      [/^console: Failed to load resource: .* 404 .*\/api\/cart/],
      `allowed: ${JSON.stringify(allowance)}`,
    );
  }
});

t.test('requests to other origins are caught and never leave', async (t) => {
  const page = await openPage(t, browser, shop.url, { assertOnTeardown: false });
  await page.goto('/foreign');
  await page.page.waitForSelector('body[data-closed][data-fetched]', { state: 'attached' });
  const foreign = [
    'http://example.invalid/x.png',
    `${outside.url}/y.png`,
    `${outside.url}/p.css`,
    `${outside.url}/api`,
    'websocket ws://10.255.255.1/',
    `websocket ${outside.url.replace('http', 'ws')}/live`,
  ].sort();
  const problems = await page.problems();
  t.same([...page.foreignRequests].sort(), foreign, 'every one is reported');
  t.same([...page.blockedRequests].sort(), foreign, 'every one is blocked');
  t.same(outside.hits, [], 'none reached the other origin');
  // What Chromium logs for a blocked load is no second problem: the request is the problem.
  t.same(page.consoleErrors, []);
  t.equal(problems.length, foreign.length);
});

t.test("a worker's requests and WebSockets are caught and stopped too", async (t) => {
  shop.pages.set('/worker.js', {
    headers: { 'content-type': 'text/javascript' },
    body:
      `fetch("${outside.url}/from-worker").catch(() => undefined);` +
      `new WebSocket("${outside.url.replace('http', 'ws')}/live").onclose = () => postMessage("closed");`,
  });
  shop.pages.set(
    '/working',
    html(
      'Working',
      '<script>new Worker("/worker.js").onmessage = () => (document.body.dataset.closed = "yes");</script>',
    ),
  );
  const page = await openPage(t, browser, shop.url, { assertOnTeardown: false });
  // The page's routes do not take a worker's WebSocket: the dead-end proxy stops it.
  await page.goto('/working');
  await page.page.waitForSelector('body[data-closed]', { state: 'attached' });
  t.same([...page.foreignRequests].sort(), [
    `${outside.url}/from-worker`,
    `websocket ${outside.url.replace('http', 'ws')}/live`,
  ]);
  t.same(outside.hits, [], 'none reached the other origin');
});

t.test('allowed origins are let through, WebSockets included', async (t) => {
  const page = await openPage(t, browser, shop.url, { allowedOrigins: [outside.url] });
  await page.goto('/allowed-outside');
  await page.page.waitForSelector('body[data-allowed][data-live="open"]', { state: 'attached' });
  t.same(await page.problems(), []);
  t.same(outside.hits, ['/allowed.js', 'upgrade /live']);
});

t.test('accessibility: serious violations are reported, a labelled page passes', async (t) => {
  shop.pages.set(
    '/unlabelled',
    html('Unlabelled', '<img src="/pixel.png"><input type="text" name="q">'),
  );
  // A strict Content-Security-Policy, as the shop's pages may have: axe must run under it.
  shop.pages.set('/labelled', {
    ...html(
      'Labelled',
      '<img src="/pixel.png" alt="Mercado"><label for="q">Search</label><input id="q" name="q">',
    ),
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'self'",
    },
  });
  const bad = await openPage(t, browser, shop.url);
  await bad.goto('/unlabelled');
  const recorder = recordingTest();
  const results = await checkAccessibility(recorder, bad, 'unlabelled');
  t.equal(recorder.asserted.length, 1);
  t.equal(
    recorder.asserted[0]?.message,
    'unlabelled: no serious or critical accessibility violations',
  );
  t.match([...(recorder.asserted[0]?.found as string[])].sort(), [
    /^image-alt \(critical\): Images must have alternative text — img$/,
    /^label \(critical\): Form elements must have labels — input$/,
  ]);
  t.ok(results.violations.length >= 2, 'the full results come back');

  const good = await openPage(t, browser, shop.url);
  await good.goto('/labelled');
  const passed = await checkAccessibility(t, good, 'labelled');
  t.ok(passed.passes.length > 0, 'axe ran its rules');
});

t.test(
  'the bytes of a load are those on the wire: a gzipped script counts compressed',
  async (t) => {
    const script = `document.body.dataset.bundle = String(${JSON.stringify('mercado '.repeat(20_000))}.length);`;
    const gzipped = gzipSync(script);
    const stylesheet = 'main { padding: 1rem; }';
    shop.pages.set('/bundle.js', {
      headers: { 'content-type': 'text/javascript', 'content-encoding': 'gzip' },
      body: gzipped,
    });
    shop.pages.set('/bundle.css', { headers: { 'content-type': 'text/css' }, body: stylesheet });
    shop.pages.set(
      '/bundled',
      html(
        'Bundled',
        '<script src="/bundle.js"></script>',
        '<link rel="stylesheet" href="/bundle.css">',
      ),
    );
    const page = await openPage(t, browser, shop.url);
    await page.goto('/bundled');
    await page.page.waitForSelector('body[data-bundle="160000"]', { state: 'attached' });
    const totals = await transferredBytes(page);
    t.ok(gzipped.length < script.length / 10, 'the script compresses well');
    t.same(totals.script, { responses: 1, bytes: gzipped.length, uncompressed: [] });
    t.same(totals.stylesheet, {
      responses: 1,
      bytes: stylesheet.length,
      uncompressed: [`${shop.url}/bundle.css`],
    });
    t.equal(totals.document?.responses, 1);
  },
);

t.test('a phone is 390 pixels wide and touches; a desktop is 1366', async (t) => {
  const phone = await openPage(t, browser, shop.url, { viewport: 'phone' });
  await phone.goto('/clean');
  t.same(await phone.page.evaluate('[innerWidth, navigator.maxTouchPoints > 0]'), [390, true]);
  const desktop = await openPage(t, browser, shop.url);
  await desktop.goto('/clean');
  t.same(await desktop.page.evaluate('[innerWidth, navigator.maxTouchPoints > 0]'), [1366, false]);
});

t.test('the first render of an element is measured by the page', async (t) => {
  shop.pages.set('/api/items', {
    headers: { 'content-type': 'application/json' },
    body: '["a", "b"]',
  });
  shop.pages.set(
    '/late',
    html(
      'Late',
      '<script>fetch("/api/items").then((answer) => answer.json()).then((items) => {' +
        'const list = document.createElement("ul"); list.id = "items";' +
        'list.innerHTML = items.map((item) => `<li>${item}</li>`).join("");' +
        'document.querySelector("main").append(list); });</script>',
    ),
  );
  const page = await openPage(t, browser, shop.url);
  const ms = await firstRenderMs(page, '/late', '#items');
  const now = (await page.page.evaluate('performance.now()')) as number;
  t.ok(ms > 0 && ms <= now, `${ms} ms: after the navigation started, before now (${now} ms)`);
  t.equal(await page.page.locator('#items li').count(), 2);
});

t.test('screenshots are PNG files', async (t) => {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'mercado-screenshots-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  const page = await openPage(t, browser, shop.url, { viewport: 'phone' });
  await page.goto('/clean');
  const file = await screenshot(page, path.join(directory, 'phone', 'clean.png'));
  const png = await readFile(file);
  t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
});

t.test('a missing Chromium fails, naming how to install it', async (t) => {
  const before = process.env.CHROMIUM_PATH;
  process.env.CHROMIUM_PATH = '/nonexistent/chromium';
  const launching = launchBrowser(t);
  if (before === undefined) delete process.env.CHROMIUM_PATH;
  else process.env.CHROMIUM_PATH = before;
  await t.rejects(
    launching,
    /no Chromium at \/nonexistent\/chromium: .*apt-get install -y chromium/,
  );
});
