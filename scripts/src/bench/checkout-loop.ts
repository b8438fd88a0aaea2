import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { Histogram } from 'hdr-histogram-js';
import { latencyHistogram, microsSince, percentilesMs, runSchedule } from './schedule.js';

/**
 * The checkout's open-loop load generator, run as its own process by bench:checkout (as
 * open-loop.ts is for single requests): a shopper's checkout starts every 1/rate s whatever the
 * earlier ones are doing, and is timed from the moment it was due. A checkout is three calls
 * through the gateway, one after the other:
 *
 * 1. `POST /api/cart/items` — one unit of the product, into the shopper's (signed-in) cart;
 * 2. `POST /api/orders` with an `Idempotency-Key` — the order, stock reserved, `awaiting_payment`;
 * 3. `POST /api/orders/{id}/payments` with the approve card — 200 `succeeded`: the order is paid
 *    (retried while payments has not heard of the order yet: see pay below).
 *
 * A cart is a user's, so a checkout needs a shopper no other checkout is using: each takes the
 * next free one of the file's shoppers, and one that finds none free waits for the first to come
 * back (that wait counts in its time: never hidden, as a closed loop would hide it).
 *
 * argv: gatewayUrl rate seconds @file — the file is `{ productIds, shoppers: [token, ...] }`
 * (checkout i buys product i mod their number). A rate of `closed:N` is a closed loop instead: N
 * shoppers each check out again as soon as their last checkout ended, for the given seconds — the
 * rate the system can sustain at that concurrency (its capacity, which an open loop only finds by
 * trying rates); each checkout is timed from when it started.
 * Prints one JSON line: checkouts per second started, those paid per second, the percentiles of
 * the whole checkout and of each step (each step timed from when it was sent), the errors by
 * step and answer, the pay retries, and the paid order ids (bench:checkout then checks orders' database).
 */

interface Plan {
  productIds: string[];
  shoppers: string[];
}

const [baseUrl, rateArgument, secondsArgument, fileArgument] = process.argv.slice(2);
if (!baseUrl || !rateArgument || !secondsArgument || !fileArgument?.startsWith('@')) {
  process.stderr.write('usage: checkout-loop URL RATE SECONDS @plan.json\n');
  process.exit(2);
}
const plan = JSON.parse(readFileSync(fileArgument.slice(1), 'utf8')) as Plan;
const closedLoop = /^closed:(\d+)$/.exec(rateArgument);
const rate = closedLoop ? 0 : Number(rateArgument);
let total = closedLoop ? 0 : Math.round(rate * Number(secondsArgument));
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
const steps = ['cart', 'order', 'pay'] as const;
type Step = (typeof steps)[number];

const histogram = (): Histogram => latencyHistogram(120);
const whole = histogram();
const waited = histogram();
const byStep = Object.fromEntries(steps.map((step) => [step, histogram()])) as Record<
  Step,
  Histogram
>;
const errors: Record<string, number> = {};
const paidOrderIds: string[] = [];

const card = JSON.stringify({
  card: { number: '4242424242424242', expMonth: 12, expYear: 2034, cvc: '123' },
});
const address = JSON.stringify({
  shippingAddress: {
    name: 'Bench Shopper',
    line1: 'Calle Mayor 1',
    city: 'Madrid',
    postalCode: '28013',
    country: 'ES',
  },
});

/** One call: its status and body, timed from when it was sent. */
function call(
  method: string,
  path: string,
  token: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; micros: number }> {
  const sent = process.hrtime.bigint();
  return new Promise((resolve) => {
    const request = http.request(
      `${baseUrl}${path}`,
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          ...headers,
        },
      },
      function onResponse(response) {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.once('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            micros: Number((process.hrtime.bigint() - sent) / 1000n),
          }),
        );
      },
    );
    request.once('error', () =>
      resolve({ status: 0, body: '', micros: Number((process.hrtime.bigint() - sent) / 1000n) }),
    );
    request.end(body);
  });
}

/** Counts a failed step by its answer (0: no answer); false ends the checkout. */
function expectStatus(step: Step, answer: { status: number }, expected: number[]): boolean {
  if (expected.includes(answer.status)) return true;
  const key = `${step} ${answer.status}`;
  errors[key] = (errors[key] ?? 0) + 1;
  return false;
}

/** The three steps of one checkout; the paid order's id, or undefined. */
async function checkout(token: string, index: number): Promise<string | undefined> {
  const productId = plan.productIds[index % plan.productIds.length]!;
  const added = await call(
    'POST',
    '/api/cart/items',
    token,
    JSON.stringify({ productId, quantity: 1 }),
  );
  byStep.cart.recordValue(Math.max(1, added.micros));
  if (!expectStatus('cart', added, [200, 201])) return undefined;

  const ordered = await call('POST', '/api/orders', token, address, {
    'idempotency-key': randomUUID(),
  });
  byStep.order.recordValue(Math.max(1, ordered.micros));
  if (!expectStatus('order', ordered, [201])) return undefined;
  const orderId = (JSON.parse(ordered.body) as { id: string }).id;

  const paySent = process.hrtime.bigint();
  const paid = await pay(token, orderId);
  byStep.pay.recordValue(microsSince(paySent));
  if (!expectStatus('pay', paid, [200])) return undefined;
  return (JSON.parse(paid.body) as { status?: string }).status === 'succeeded'
    ? orderId
    : undefined;
}

/**
 * Pays the order with the approve card. The order's intent travels to payments on its own (orders'
 * outbox → MQTT), so a payment sent right after the order can get there first: payments refuses
 * it `unknown_order` (404) and stores nothing, and the same request is paid once the intent is
 * there (the payments README). The shopper retries it then, as a storefront would, after 5 ms,
 * 10, 20… (at most 100 ms apart, for at most 10 s); the step's time includes the retries.
 */
async function pay(token: string, orderId: string): Promise<{ status: number; body: string }> {
  const key = randomUUID();
  const giveUpAt = Date.now() + 10_000;
  for (let attempt = 0; ; attempt++) {
    const answer = await call('POST', `/api/orders/${orderId}/payments`, token, card, {
      'idempotency-key': key,
    });
    const unknown =
      answer.status === 404 &&
      (JSON.parse(answer.body) as { code?: string }).code === 'unknown_order';
    if (!unknown || Date.now() >= giveUpAt) return answer;
    payRetries++;
    await new Promise((resolve) => setTimeout(resolve, Math.min(100, 5 * 2 ** attempt)));
  }
}
let payRetries = 0;

const free = [...plan.shoppers];
const waiting: Array<(token: string) => void> = [];
function takeShopper(): Promise<string> {
  const token = free.pop();
  return token ? Promise.resolve(token) : new Promise((resolve) => waiting.push(resolve));
}
function giveBack(token: string) {
  const next = waiting.shift();
  if (next) next(token);
  else free.push(token);
}

let settled = 0;
let start = 0n;

// Checkouts still unfinished this long after the last was due are given up (counted, not timed):
// an overloaded system would otherwise keep the run going for minutes.
const graceMs = Number(process.env.BENCH_CHECKOUT_GRACE_MS ?? 30_000);
async function closedWorker(until: number): Promise<void> {
  while (Date.now() < until) {
    const token = await takeShopper();
    const began = process.hrtime.bigint();
    const index = total++;
    try {
      const orderId = await checkout(token, index);
      if (orderId) paidOrderIds.push(orderId);
    } finally {
      giveBack(token);
      whole.recordValue(microsSince(began));
      settled++;
    }
  }
}

if (closedLoop) {
  start = process.hrtime.bigint();
  const until = Date.now() + Number(secondsArgument) * 1000;
  await Promise.all(Array.from({ length: Number(closedLoop[1]) }, () => closedWorker(until)));
} else
  await new Promise<void>(function run(resolve) {
    setTimeout(resolve, Number(secondsArgument) * 1000 + graceMs).unref();
    start = runSchedule(rate, total, function begin(due, index) {
      void (async () => {
        const token = await takeShopper();
        waited.recordValue(microsSince(due));
        try {
          const orderId = await checkout(token, index);
          if (orderId) paidOrderIds.push(orderId);
        } finally {
          giveBack(token);
          whole.recordValue(microsSince(due));
          if (++settled === total) resolve();
        }
      })();
    });
  });
const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
process.stdout.write(
  `${JSON.stringify({
    started: total / elapsedS,
    paidPerSecond: paidOrderIds.length / elapsedS,
    paid: paidOrderIds.length,
    total,
    unfinished: total - settled,
    elapsedS,
    whole: percentilesMs(whole),
    waitedForShopper: percentilesMs(waited),
    steps: Object.fromEntries(steps.map((step) => [step, percentilesMs(byStep[step])])),
    errors,
    payRetries,
    paidOrderIds,
  })}\n`,
  // Unfinished checkouts' calls are dropped with the process.
  () => process.exit(0),
);
