import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import type { AxeResults } from 'axe-core';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type ConsoleMessage,
  type Page,
  type Response,
} from 'playwright-core';

/**
 * Pages of the storefront and back office in a real headless Chromium (Debian's, driven by
 * playwright-core), with guards that fail a test for what a shopper would never notice but a
 * page must never do:
 * - an error in the console or an uncaught exception (unless the test allows that very error:
 *   `allowConsoleError`, `allowFailedResponse`);
 * - a request to any origin but the shop's own (HTTP, WebSocket, preload; `data:` and `blob:`
 *   are the page's own). It is also stopped, three times over: the page's routes abort it, what
 *   they cannot see (a worker's WebSocket) goes to a proxy that drops it, and nothing but
 *   loopback resolves. Nothing leaves the machine, nor reaches another port on it.
 * `openPage` checks both when its test ends, as tap assertions listing the offenders; the
 * harness's own tests turn that off (`assertOnTeardown: false`) and read `problems()`.
 *
 * Beside the guards: an accessibility check with axe-core (`checkAccessibility`), the time to a
 * first render of an element (`firstRenderMs`, for a benchmark's report, never for an
 * assertion), the bytes a page load moved per resource type (`transferredBytes`) and PNG
 * screenshots (`screenshot`).
 *
 * Waits are on events (a load, a selector, an animation frame), never on time.
 */

/** What the harness needs of a tap test to clean up after it. */
export interface TeardownContext {
  teardown(fn: () => unknown): void;
}

/** What the harness needs of a tap test to report a failure. */
export interface AssertContext {
  same(found: unknown, wanted: unknown, message: string, extra: { stack: string }): boolean;
}

/**
 * What `openPage` needs of a tap test: its teardown, assertions, and the test's core object
 * (`t.t`), whose `onbeforeend` hook tap runs before it closes the test's plan. The guards assert
 * there: a `t.teardown` function runs after the plan is closed, when tap reports an assertion
 * as an error of its own instead of the failure it is.
 */
export interface PageTestContext extends TeardownContext, AssertContext {
  t: object;
  fail(message: string): boolean;
}

/** Without these, Chromium keeps opening connections to Google's services, refused here. */
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // Below the guards' blocking and the pages' dead-end proxy (see openPage), a last wall: no
  // host name or address but loopback resolves, whatever goes direct. It fails as a name that
  // does not resolve, which the console reports.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]',
];

/**
 * Launches the headless Chromium a test file shares across its subtests (`CHROMIUM_PATH`, or
 * Debian's at /usr/bin/chromium), closed when `t` ends. A missing browser is a failure naming
 * how to install it, never a skipped test: the test runner installs it with the other system
 * programs the tests drive.
 */
export async function launchBrowser(t: TeardownContext): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(
      `no Chromium at ${executablePath}: install it with \`apt-get install -y chromium\` ` +
        '(`npm test` does, as root) or point CHROMIUM_PATH at one',
    );
  }
  const deadEnd = await startDeadEnd();
  const browser = await chromium
    .launch({ executablePath, headless: true, args: chromiumArgs })
    .catch(async (error: unknown) => {
      await deadEnd.close();
      throw error;
    });
  deadEnds.set(browser, deadEnd.url);
  t.teardown(async () => {
    await browser.close();
    await deadEnd.close();
  });
  return browser;
}

/** The dead-end proxy of each browser launchBrowser launched. */
const deadEnds = new WeakMap<Browser, string>();

/**
 * A proxy that drops every connection on arrival, for the pages' contexts: whatever Chromium
 * sends anywhere but the shop's origins goes there and ends, the requests and WebSockets the
 * routes cannot stop (a worker's WebSocket) included.
 */
async function startDeadEnd(): Promise<{ url: string; close(): Promise<void> }> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Chromium's proxy bypass rule for an origin: its host and port, whatever the scheme. */
function bypassRuleOf(url: string): string {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'https:' || parsed.protocol === 'wss:';
  return `${parsed.hostname}:${parsed.port || (secure ? 443 : 80)}`;
}

export const viewports = {
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
  desktop: { viewport: { width: 1366, height: 900 }, isMobile: false, hasTouch: false },
} as const;

export interface OpenPageOptions {
  /** A phone (390×844, touch, mobile) or a desktop (1366×900, the default). */
  viewport?: keyof typeof viewports;
  /** The browser's language (`navigator.language`, Accept-Language): `de-DE`, say. */
  locale?: string;
  /** Assert the guards when the test ends (default true; false for the harness's own tests). */
  assertOnTeardown?: boolean;
  /**
   * Origins the page may talk to besides the base URL's, such as a broker's WebSocket listener
   * on a port of its own (`ws://127.0.0.1:1883` counts as `http://127.0.0.1:1883`).
   */
  allowedOrigins?: string[];
}

/** One response the page received in full, with the bytes its body took on the wire. */
export interface Transfer {
  url: string;
  /** Playwright's resource type: document, script, stylesheet, image, font, fetch… */
  type: string;
  status: number;
  /** The response's content-encoding (`gzip`, `br`…), or `identity` when it had none. */
  encoding: string;
  /** The body as transferred: compressed when it was (`response.body()` is decoded). */
  bodyBytes: number;
}

export interface TestPage {
  page: Page;
  context: BrowserContext;
  baseUrl: string;
  /** Navigates to `path` (relative to the base URL) and waits for the load event. */
  goto(path: string): Promise<Response | null>;
  /**
   * Lets console errors and uncaught exceptions whose message matches `pattern` through, for a
   * test that provokes them.
   */
  allowConsoleError(pattern: RegExp): void;
  /**
   * Lets through the console error Chromium logs for an error status ("Failed to load
   * resource: the server responded with a status of 404"), for the response at `url` (a path
   * relative to the base URL, or a pattern for the absolute URL) and, if given, that status only:
   * for a page that shows an API's refusal, without allowing any other failed load.
   */
  allowFailedResponse(url: string | RegExp, status?: number): void;
  /** Console errors and uncaught exceptions so far, allowed ones left out. */
  readonly consoleErrors: readonly string[];
  /** Requests to other origins so far (WebSocket ones prefixed `websocket `). */
  readonly foreignRequests: readonly string[];
  /** The foreign requests that were stopped before they left. */
  readonly blockedRequests: readonly string[];
  /** Every response received in full so far. */
  readonly transfers: readonly Transfer[];
  /** Waits for the events the page has sent so far, then lists what the guards caught. */
  problems(): Promise<string[]>;
  /** Closes the page's context (the test's end does it too). */
  close(): Promise<void>;
}

/** The origin as the same-origin rule sees it, a WebSocket counting as its HTTP twin. */
function originOf(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const scheme = { 'ws:': 'http:', 'wss:': 'https:' }[parsed.protocol] ?? parsed.protocol;
  return `${scheme}//${parsed.host}`;
}

/** The page's own content: nothing travels to fetch it. */
const localSchemes = new Set(['data:', 'blob:', 'about:']);

/** The console error Chromium logs for a response with an error status, and that status. */
const failedResponse = /^Failed to load resource: the server responded with a status of (\d+)/;

/** What Chromium logs for a request the guards stopped, already reported as foreign. */
const blockedByGuard = /^Failed to load resource: net::ERR_BLOCKED_BY_CLIENT/;

/**
 * Where the test called the harness function that calls this: given to an assertion as its
 * stack, tap points a failure at the test's line rather than at this file's.
 */
function callSite(): { stack: string } {
  return { stack: (new Error().stack ?? '').split('\n').slice(3).join('\n') };
}

/**
 * Runs `check` when tap is about to close `t`'s plan (see PageTestContext), after whatever ran
 * there before; a `check` that throws fails the test.
 */
function beforeEnd(t: PageTestContext, check: () => Promise<void>): void {
  const core = t.t as { onbeforeend?: () => unknown };
  const previous = core.onbeforeend;
  if (typeof previous !== 'function') {
    throw new Error('this tap has no onbeforeend hook: the page guards cannot assert');
  }
  core.onbeforeend = () =>
    check()
      .catch((error: unknown) => t.fail(`the page guards failed: ${String(error)}`))
      .then(() => previous.call(core));
}

/**
 * A new context and page in `browser` for the shop at `baseUrl`, guarded (see the top of this
 * file): every foreign request is recorded and blocked, every console error recorded, and when
 * `t` ends the context is closed and, unless `assertOnTeardown` is false, both lists must be
 * empty.
 */
export async function openPage(
  t: PageTestContext,
  browser: Browser,
  baseUrl: string,
  options: OpenPageOptions = {},
): Promise<TestPage> {
  const origins = [baseUrl, ...(options.allowedOrigins ?? [])];
  const own = new Set(origins.map((url) => originOf(url)));
  const isForeign = (url: string) =>
    !localSchemes.has(new URL(url).protocol) && !own.has(originOf(url));

  const deadEnd = deadEnds.get(browser);
  if (!deadEnd) throw new Error('openPage needs a browser from launchBrowser (its proxy)');
  const context = await browser.newContext({
    ...viewports[options.viewport ?? 'desktop'],
    ...(options.locale ? { locale: options.locale } : {}),
    // Only the shop's origins go direct: everything else goes to the dead end.
    proxy: { server: deadEnd, bypass: origins.map(bypassRuleOf).join(',') },
  });
  const consoleErrors: string[] = [];
  const foreignRequests: string[] = [];
  const blockedRequests: string[] = [];
  const transfers: Transfer[] = [];
  const measuring = new Set<Promise<void>>();
  const allowedErrors: RegExp[] = [];
  const allowedResponses: Array<{ url: string | RegExp; status: number | undefined }> = [];

  function allowed(message: ConsoleMessage): boolean {
    const text = message.text();
    const { url } = message.location();
    if (blockedByGuard.test(text) && blockedRequests.includes(url)) return true;
    const status = failedResponse.exec(text)?.[1];
    const responseAllowed =
      status !== undefined &&
      allowedResponses.some(
        (allowance) =>
          (allowance.status === undefined || allowance.status === Number(status)) &&
          (typeof allowance.url === 'string'
            ? new URL(allowance.url, baseUrl).href === url
            : allowance.url.test(url)),
      );
    return responseAllowed || allowedErrors.some((pattern) => pattern.test(text));
  }

  context.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'assert') return;
    if (allowed(message)) return;
    const { url, lineNumber } = message.location();
    // Playwright counts lines from 0, browsers' consoles from 1.
    consoleErrors.push(`console: ${message.text()}${url ? ` (${url}:${lineNumber + 1})` : ''}`);
  });
  context.on('weberror', (webError) => {
    const error = webError.error();
    if (allowedErrors.some((pattern) => pattern.test(error.message))) return;
    consoleErrors.push(`uncaught: ${error.stack ?? error.message}`);
  });
  context.on('request', (request) => {
    if (isForeign(request.url())) foreignRequests.push(request.url());
  });
  context.on('requestfinished', (request) => {
    const measured = (async () => {
      const response = await request.response();
      if (!response) return;
      const sizes = await request.sizes();
      transfers.push({
        url: request.url(),
        type: request.resourceType(),
        status: response.status(),
        encoding: (await response.headerValue('content-encoding')) ?? 'identity',
        bodyBytes: sizes.responseBodySize,
      });
    })()
      // The context closed before the sizes came: the load was not measured, nothing more.
      .catch(() => undefined)
      .finally(() => measuring.delete(measured));
    measuring.add(measured);
  });
  // A WebSocket the routes below did not take (one opened by a worker): recorded, the dead-end
  // proxy ending it.
  context.on('page', (page) =>
    page.on('websocket', (socket) => {
      if (isForeign(socket.url())) foreignRequests.push(`websocket ${socket.url()}`);
    }),
  );
  await context.route(
    (url) => isForeign(url.href),
    (route) => {
      blockedRequests.push(route.request().url());
      return route.abort('blockedbyclient');
    },
  );
  // A routed WebSocket that is never connected to its server stays in the browser: closing it
  // is all the page sees.
  await context.routeWebSocket(
    (url) => isForeign(url.href),
    (socket) => {
      foreignRequests.push(`websocket ${socket.url()}`);
      blockedRequests.push(`websocket ${socket.url()}`);
      return socket.close();
    },
  );
  const page = await context.newPage();

  let closed: Promise<void> | undefined;
  const close = () => (closed ??= context.close());
  async function problems(): Promise<string[]> {
    // A round trip through the page: the events it sent before answering have arrived.
    await page.evaluate(() => undefined).catch(() => undefined);
    await Promise.all(measuring);
    return [...consoleErrors, ...foreignRequests.map((url) => `foreign request: ${url}`)];
  }

  if (options.assertOnTeardown !== false) {
    const opened = callSite();
    beforeEnd(t, async () => {
      await problems();
      await close();
      t.same(consoleErrors, [], `no console errors or uncaught exceptions on ${baseUrl}`, opened);
      t.same(foreignRequests, [], `no request left ${originOf(baseUrl)}`, opened);
    });
  }
  t.teardown(close);

  return {
    page,
    context,
    baseUrl,
    goto: (target) => page.goto(new URL(target, baseUrl).href, { waitUntil: 'load' }),
    allowConsoleError: (pattern) => void allowedErrors.push(pattern),
    allowFailedResponse: (url, status) => void allowedResponses.push({ url, status }),
    consoleErrors,
    foreignRequests,
    blockedRequests,
    transfers,
    problems,
    close,
  };
}

function pageOf(target: TestPage | Page): Page {
  return 'page' in target ? target.page : target;
}

/** The few browser globals the page-side functions below use (tests compile without the DOM library). */
interface Window {
  axe: { run(context: unknown, options: unknown): Promise<AxeResults> };
  document: {
    querySelector(selector: string): { checkVisibility(): boolean } | null;
  };
  requestAnimationFrame(callback: () => void): number;
  performance: { now(): number };
  firstRenders?: Record<string, number>;
}

let axeSource: Promise<string> | undefined;

/**
 * Runs axe-core on the page against WCAG 2.0, 2.1 and 2.2 levels A and AA, and fails `t`
 * listing every serious or critical violation (its rule, what it asks for, the elements);
 * returns axe's full results. axe comes from the installed package, evaluated in the page
 * rather than added as a script element: a page's Content-Security-Policy (which the shop's
 * pages may well set) would refuse an inline script, and log the refusal as a console error.
 */
export async function checkAccessibility(
  t: AssertContext,
  target: TestPage | Page,
  label: string,
): Promise<AxeResults> {
  const calledAt = callSite();
  const page = pageOf(target);
  axeSource ??= readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(await axeSource);
  const results = await page.evaluate(() =>
    (globalThis as unknown as Window).axe.run((globalThis as unknown as Window).document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    }),
  );
  const serious = results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map(
      (violation) =>
        `${violation.id} (${violation.impact}): ${violation.help} — ` +
        violation.nodes.map((node) => node.target.join(' ')).join(', '),
    );
  t.same(serious, [], `${label}: no serious or critical accessibility violations`, calledAt);
  return results;
}

/**
 * Navigates to `path` and returns the milliseconds from the navigation's start (the document's
 * `performance.timeOrigin`) to the first animation frame in which `selector` is visible, as the
 * page itself measures it. For a benchmark's report: a loaded machine makes it vary, so no test
 * asserts on it. A script run at the document's start watches every frame, so an element
 * rendered before the harness could look is measured all the same.
 */
export async function firstRenderMs(
  target: TestPage,
  pathname: string,
  selector: string,
): Promise<number> {
  await target.page.addInitScript((watched: string) => {
    const window = globalThis as unknown as Window;
    const renders = (window.firstRenders ??= {});
    const look = () => {
      if (window.document.querySelector(watched)?.checkVisibility()) {
        renders[watched] ??= window.performance.now();
      } else {
        window.requestAnimationFrame(look);
      }
    };
    window.requestAnimationFrame(look);
  }, selector);
  await target.goto(pathname);
  const measured = await target.page.waitForFunction(
    (watched: string) => (globalThis as unknown as Window).firstRenders?.[watched],
    selector,
  );
  return (await measured.jsonValue()) as number;
}

export interface TypeTotal {
  /** Responses of this type. */
  responses: number;
  /** Their bodies' bytes as transferred (compressed where they were). */
  bytes: number;
  /** Those sent without content-encoding. */
  uncompressed: string[];
}

/**
 * The bytes of every response the page has received in full, per resource type (script,
 * stylesheet, document, image, font, fetch…): what a shopper's connection carried for the
 * bodies, compressed sizes where the server compressed. Call it after the load it measures
 * (`goto` waits for the load event, scripts and stylesheets included).
 */
export async function transferredBytes(target: TestPage): Promise<Record<string, TypeTotal>> {
  await target.problems();
  const totals: Record<string, TypeTotal> = {};
  for (const transfer of target.transfers) {
    const total = (totals[transfer.type] ??= { responses: 0, bytes: 0, uncompressed: [] });
    total.responses += 1;
    total.bytes += transfer.bodyBytes;
    if (transfer.encoding === 'identity') total.uncompressed.push(transfer.url);
  }
  return totals;
}

/** A PNG of the whole page at `file` (its directory made if missing); returns the path. */
export async function screenshot(target: TestPage | Page, file: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await pageOf(target).screenshot({ path: file, fullPage: true, type: 'png' });
  return file;
}
