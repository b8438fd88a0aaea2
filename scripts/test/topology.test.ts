import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import t from 'tap';
import type { CardPublicJwk } from '@mercado/common/contract';
import { connectMqtt, type MqttClient } from '@mercado/common/mqtt';
import { eventually } from '@mercado/common/testing';
import { startTopology, type TopologyProcess } from '../src/topology.js';
import {
  connectTerminal,
  encryptTestCard,
  newRequestId,
  sendRequest,
} from '../src/terminal/index.js';

/**
 * The production topology as local processes (scripts/src/topology.ts, docs/topology.md), one
 * for every subtest: the storefront and the API through nginx; a checkout through nginx with its
 * live status over ws://…/mqtt; terminal payments over nginx's MQTT stream; then, under a steady
 * load of shoppers checking out, one gateway, one frontend, one orders, one payments replica and
 * one broker node SIGKILLed in turn (each started again once seen dead and the load has gone on
 * without it): no GET answered 5xx, every POST that failed uncleanly succeeded when retried under
 * its Idempotency-Key, a live-status client whose node died reconnects and hears its order paid,
 * and every database agrees at the end — no order lost, none charged twice, no reservation held.
 */

// Usually about a minute on 2 cores; a checkout whose orders replica is killed mid-request no
// longer holds its Idempotency-Key for 60 s (docs/topology.md, "What it found"), so tap's default
// 120 s leaves a loaded machine room enough. Set here so the file says what it allows.
t.setTimeout(150_000);

const startedAt = Date.now();
const topology = await startTopology({
  demo: false,
  env: {
    // A result the broker gave nobody (its node died) is brought in by orders asking payments
    // about unpaid orders: every second here, rather than every minute.
    orders: { PAYMENT_CHECK_INTERVAL_SECONDS: '1', SWEEP_INTERVAL_MS: '500' },
    // A payment left `processing` by a killed replica is settled by another one's recovery after
    // 5 s here (10 minutes in production), so its retry is not refused for that long.
    payments: { PAYMENTS_ABANDONED_AFTER_MS: '5000', PAYMENTS_RECOVERY_INTERVAL_MS: '1000' },
  },
});
t.comment(`the topology started in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
t.teardown(async () => {
  const stopAt = Date.now();
  await topology.stop();
  t.comment(`and stopped in ${((Date.now() - stopAt) / 1000).toFixed(1)} s`);
});
const base = topology.url;

interface Answer {
  status: number;
  body: any;
  /** The connection failed: no answer at all. */
  error?: string;
}

/** One request through nginx as a client sends it; never throws. */
async function call(
  method: string,
  path: string,
  {
    token,
    body,
    headers,
  }: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // a page, not JSON
    }
    return { status: response.status, body: parsed };
  } catch (error) {
    return { status: 0, body: undefined, error: (error as Error).message };
  }
}

/** Every request the shoppers made, as they saw it. */
const seen: Array<{ method: string; what: string; status: number; phase: string }> = [];
let phase = 'setup';
/** Retried POSTs that took long, with what they were answered meanwhile. */
const slow: string[] = [];
/** Set once a shopper failed: every other shopper's retries stop at once. */
let aborted: Error | undefined;
const unclean = (answer: { status: number }) => answer.status === 0 || answer.status >= 500;

async function get(what: string, path: string, token?: string): Promise<Answer> {
  const answer = await call('GET', path, token ? { token } : {});
  seen.push({ method: 'GET', what, status: answer.status, phase });
  return answer;
}

/**
 * A POST under an Idempotency-Key, sent again with the same key until it succeeds. What may come
 * back meanwhile: a 5xx or no answer (the replica died with it), 409 `idempotency_key_in_use` or
 * `payment_in_progress` (the first attempt is still under way, or was left by a killed process
 * until it is settled), 202 (no payment result yet), 404 `unknown_order` (the intent is still on
 * its way to payments). Any other answer is a failure of the test.
 */
async function postUntilDone(
  what: string,
  path: string,
  token: string,
  body: unknown,
  done: (answer: Answer) => boolean,
): Promise<{ answer: Answer; retried: boolean }> {
  const key = randomUUID();
  let retried = false;
  const trail: Record<string, number> = {};
  const since = Date.now();
  let reported = false;
  const answer = await eventually(
    `${what} (${path}) to succeed under its Idempotency-Key`,
    async () => {
      if (aborted) throw aborted;
      const answer = await call('POST', path, {
        token,
        body,
        headers: { 'idempotency-key': key },
      });
      seen.push({ method: 'POST', what, status: answer.status, phase });
      if (done(answer)) return answer;
      const code = answer.body?.code;
      const notYet =
        unclean(answer) ||
        answer.status === 202 ||
        (answer.status === 409 &&
          ['idempotency_key_in_use', 'payment_in_progress'].includes(code)) ||
        (answer.status === 404 && code === 'unknown_order');
      if (!notYet) {
        throw new Error(`${what} failed: ${answer.status} ${JSON.stringify(answer.body)}`);
      }
      retried = true;
      const seenAs = `${answer.status} ${code ?? answer.body?.status ?? answer.error ?? ''}`;
      trail[seenAs] = (trail[seenAs] ?? 0) + 1;
      if (!reported && Date.now() - since > 10_000) {
        reported = true;
        t.comment(`still retrying ${what} ${path} after 10 s: ${JSON.stringify(trail)}`);
      }
      return undefined;
    },
    90_000,
  );
  if (Date.now() - since > 5000) {
    slow.push(`${what} ${path} took ${Date.now() - since} ms: ${JSON.stringify(trail)}`);
  }
  return { answer, retried };
}

interface Shopper {
  userId: string;
  token: string;
}

async function register(name: string): Promise<Shopper> {
  const answer = await call('POST', '/api/auth/register', {
    body: {
      email: `${name}-${randomUUID()}@topology.example`,
      password: 'correct horse battery staple',
      name,
    },
  });
  if (answer.status !== 201) throw new Error(`register: ${answer.status}`);
  return { userId: answer.body.user.id, token: answer.body.accessToken };
}

const shippingAddress = {
  name: 'Lucía Compradora',
  line1: 'Calle Mayor 1',
  city: 'Madrid',
  postalCode: '28013',
  country: 'ES',
};

/**
 * Adding to the cart has no Idempotency-Key (orders' README): after an unclean answer the
 * shopper reads the cart and sets the line's quantity (a PATCH, which is idempotent) if the add
 * went through, else adds again.
 */
async function addToCart(shopper: Shopper, productId: string): Promise<void> {
  await eventually(`${productId} in the cart`, async () => {
    if (aborted) throw aborted;
    const added = await call('POST', '/api/cart/items', {
      token: shopper.token,
      body: { productId, quantity: 1 },
    });
    seen.push({ method: 'POST', what: 'cart add', status: added.status, phase });
    if (added.status === 200 || added.status === 201) return true;
    if (!unclean(added)) throw new Error(`cart add: ${added.status} ${JSON.stringify(added.body)}`);
    const cart = await get('cart', '/api/cart', shopper.token);
    if (cart.status !== 200) return false;
    const line = cart.body.lines?.find((l: { productId: string }) => l.productId === productId);
    if (!line) return false;
    const set = await call('PATCH', `/api/cart/items/${productId}`, {
      token: shopper.token,
      body: { quantity: 1 },
    });
    seen.push({ method: 'PATCH', what: 'cart set', status: set.status, phase });
    return set.status === 200;
  });
}

let cardKeys: CardPublicJwk[] = [];
/** Orders the shoppers placed: every one must be in orders' database at the end, paid. */
const placed: string[] = [];

/** Cart → order → pay with a card encrypted as the browser does, through nginx. */
async function checkout(shopper: Shopper, productId: string) {
  await addToCart(shopper, productId);
  const { answer: order } = await postUntilDone(
    'checkout',
    '/api/orders',
    shopper.token,
    { shippingAddress },
    (answer) => answer.status === 201,
  );
  placed.push(order.body.id);
  return order.body as { id: string; payCode: string; totalMinor: number };
}

/** Payments declined because the replica charging them died: each paid again under a new key. */
const declinedByRecovery: string[] = [];
let paymentsReplicaKilled = false;

/**
 * Pays the order with the approve card. One clean failure is allowed and paid again under a new
 * key, as the storefront's retry does: 402 `processing_error`, the decline payments' recovery
 * gives a payment whose replica died mid-charge and which the processor never answered (the
 * payments README, "Recovery") — only while or after a payments replica was killed.
 */
async function pay(shopper: Shopper, orderId: string) {
  const attempt = async () =>
    postUntilDone(
      'pay',
      `/api/orders/${orderId}/payments`,
      shopper.token,
      { encryptedCard: await encryptTestCard(cardKeys) },
      (answer) =>
        (answer.status === 200 && answer.body.status === 'succeeded') || abandonedCharge(answer),
    );
  const first = await attempt();
  if (!abandonedCharge(first.answer)) return first;
  if (!paymentsReplicaKilled) {
    throw new Error(`pay declined processing_error in phase ${phase}: no payments replica died`);
  }
  declinedByRecovery.push(orderId);
  const again = await attempt();
  if (abandonedCharge(again.answer)) throw new Error(`pay declined twice: ${orderId}`);
  return { ...again, retried: true };
}

function abandonedCharge(answer: Answer): boolean {
  return (
    answer.status === 402 &&
    answer.body?.code === 'payment_declined' &&
    answer.body?.reason === 'processing_error'
  );
}

interface Subtest {
  teardown(fn: () => unknown): void;
}

/** A browser's live connection through nginx (frontend/site/src/lib/live.ts): what it heard. */
async function liveStatus(t: Subtest, shopper: Shopper) {
  const client: MqttClient = await connectMqtt(topology.wsUrl, {
    username: 'browser',
    password: shopper.token,
    clientId: `web-${shopper.userId}-${randomUUID().slice(0, 8)}`,
    clean: true,
    reconnectPeriod: 500,
  });
  t.teardown(() => client.endAsync(true));
  const heard: Array<{ orderId: string; status: string }> = [];
  let connects = 0;
  client.on('connect', () => connects++);
  client.on('message', (_topic, payload) => heard.push(JSON.parse(payload.toString())));
  const granted = await client.subscribeAsync(`orders/${shopper.userId}/+/status`, { qos: 1 });
  // SUBACK 0x80 would be the broker refusing it (MQTT-3.9.3).
  if (granted[0]?.qos !== 1) throw new Error('the broker refused the shopper their orders’ status');
  return { client, heard, reconnects: () => connects };
}

/**
 * The products every checkout here buys, listed by the admin through nginx with stock to spare
 * in the first region (each checkout takes one unit; the load runs as many as the kills take).
 * The demo shop's 750 requests are left out: they would only make the file slower.
 */
async function stockUp(count: number): Promise<string[]> {
  const login = await call('POST', '/api/auth/login', { body: topology.admin });
  const token = login.body.accessToken;
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const product = await call('POST', '/api/products', {
      token,
      body: {
        sku: `topology-${i}-${randomUUID().slice(0, 8)}`,
        name: `Topology product ${i}`,
        priceMinor: 1999 + i,
        currency: 'EUR',
      },
    });
    if (product.status !== 201) throw new Error(`listing a product: ${product.status}`);
    const counted = await call('PUT', `/api/inventory/${product.body.id}/${topology.regions[0]}`, {
      token,
      body: { onHand: 100_000, reason: 'topology test stock' },
    });
    if (counted.status !== 200) throw new Error(`counting its stock: ${counted.status}`);
    ids.push(product.body.id);
  }
  return ids;
}
const products = await stockUp(6);

t.test('the storefront and the API answer through nginx', async (t) => {
  const page = await call('GET', '/');
  t.equal(page.status, 200, 'the storefront page, from a frontend replica');
  t.match(page.body, /<html/i);
  const catalog = await call('GET', '/api/products?limit=3');
  t.equal(catalog.status, 200, 'the catalog, from a gateway replica');
  t.equal(catalog.body.items.length, 3, 'the products listed through nginx');
  const health = await call('GET', '/api/health');
  t.equal(health.status, 200, 'every service behind the gateway is ready');
  const keys = await call('GET', '/api/payments/keys.json');
  t.equal(keys.status, 200, 'payments’ keys, announced over MQTT');
  cardKeys = keys.body.keys;
});

t.test(
  'a checkout through nginx: cart, order, a card encrypted for payments, the paid status live over /mqtt',
  async (t) => {
    const shopper = await register('live');
    const live = await liveStatus(t, shopper);
    const order = await checkout(shopper, products[4]!);
    t.equal(order.totalMinor > 0, true, 'the order owes its total');
    const { answer } = await pay(shopper, order.id);
    t.match(answer.body, { status: 'succeeded', orderId: order.id, cardLast4: '4242' });
    await eventually('the paid status, heard live', () =>
      live.heard.some((event) => event.orderId === order.id && event.status === 'paid'),
    );
    const read = await call('GET', `/api/orders/${order.id}`, { token: shopper.token });
    t.equal(read.body.status, 'paid');
  },
);

t.test(
  'a terminal pays over nginx’s MQTT stream: a walk-in amount and an order’s pay code',
  async (t) => {
    const login = await call('POST', '/api/auth/login', { body: topology.admin });
    t.equal(login.status, 200, 'the admin signs in');
    const registered = await call('POST', '/api/terminals', {
      token: login.body.accessToken,
      body: { name: 'Till 1', location: 'Calle Mayor 1, Madrid' },
    });
    t.equal(registered.status, 201, 'the admin registers a terminal through the API');
    const terminal = await connectTerminal({
      url: topology.mqttUrl,
      terminalId: registered.body.terminal.id,
      secret: registered.body.secret,
    });
    t.teardown(() => terminal.close());
    const keys = await terminal.cardKeys();

    const walkIn = await sendRequest(terminal, {
      type: 'terminal.payment_requested',
      requestId: newRequestId(),
      amountMinor: 1250,
      currency: 'EUR',
      card: await encryptTestCard(keys),
    });
    t.match(walkIn.answer, { result: 'success', request: 'payment' }, 'a walk-in amount approved');

    const shopper = await register('till');
    const order = await checkout(shopper, products[5]!);
    await eventually('payments has the order’s intent', async () => {
      const { rowCount } = await topology.db.payments.query(
        'select 1 from intents where order_id = $1 and amount_minor is not null',
        [order.id],
      );
      return rowCount === 1;
    });
    const byCode = await sendRequest(terminal, {
      type: 'terminal.order_payment_requested',
      requestId: newRequestId(),
      payCode: order.payCode,
      card: await encryptTestCard(keys),
    });
    t.match(byCode.answer, { result: 'success' }, 'the order paid by its pay code at the till');
    await eventually('the order paid', async () => {
      const read = await call('GET', `/api/orders/${order.id}`, { token: shopper.token });
      return read.body.status === 'paid';
    });
  },
);

t.test(
  'one gateway, frontend, orders, payments replica and broker node killed in turn under load: nothing lost, nothing twice',
  async (t) => {
    const shopperCount = 4;
    const checkouts = 30;
    const shoppers = await Promise.all(
      Array.from({ length: shopperCount }, (_, i) => register(`shopper${i}`)),
    );
    const liveShopper = await register('reconnecting');
    const live = await liveStatus(t, liveShopper);

    let started = 0;
    let completed = 0;
    let killsDone = false;
    const retried: Record<string, number> = {};
    async function shop(shopper: Shopper, productId: string) {
      while (!killsDone || started < checkouts) {
        started++;
        const page = await get('storefront', '/');
        if (page.status === 200 && !String(page.body).includes('<html')) {
          throw new Error('the storefront answered something else');
        }
        await get('catalog', '/api/products?limit=12');
        const order = await checkout(shopper, productId);
        const paid = await pay(shopper, order.id);
        if (paid.retried) retried[phase] = (retried[phase] ?? 0) + 1;
        await get('order', `/api/orders/${order.id}`, shopper.token);
        completed++;
      }
    }
    const load = Promise.all(
      shoppers.map((shopper, i) =>
        shop(shopper, products[i]!).catch((error: Error) => {
          aborted ??= error;
        }),
      ),
    );
    /** Waits until `more` checkouts complete from now: the load went on (or it failed). */
    const progress = (more: number) => {
      const target = completed + more;
      return eventually(`${more} more checkouts`, () => {
        if (aborted) throw aborted;
        return completed >= target;
      });
    };

    const victims: Array<[TopologyProcess, number]> = [
      ['gateway', 0],
      ['frontend', 0],
      ['orders', 0],
      ['payments', 0],
    ];
    const loadStart = Date.now();
    try {
      await progress(2);
      for (const [name, index] of victims) {
        t.comment(
          `${((Date.now() - loadStart) / 1000).toFixed(1)} s: ${completed} checkouts, killing ${name}`,
        );
        phase = `${name} killed`;
        if (name === 'payments') paymentsReplicaKilled = true;
        await topology.kill(name, index);
        t.equal(topology.replicas(name)[index]!.alive, false, `${name} ${index + 1} is dead`);
        await progress(3);
        phase = `${name} restarting`;
        const restartAt = Date.now();
        await topology.restart(name, index);
        t.comment(`${name} restarted in ${((Date.now() - restartAt) / 1000).toFixed(1)} s`);
        await progress(2);
      }

      // The broker node the live client is connected to: it must reconnect to the other one.
      const order = await checkout(liveShopper, products[0]!);
      const node = await eventually('the live client’s node', async () => {
        for (const [index, replica] of topology.replicas('broker').entries()) {
          const metrics = await (await fetch(`${replica.url}/metrics`)).text();
          if (/^mqtt_connected_clients\{[^}]*kind="browser"[^}]*\} [1-9]/m.test(metrics)) {
            return { index };
          }
        }
        return undefined;
      });
      const at = (what: string) =>
        t.comment(
          `${((Date.now() - loadStart) / 1000).toFixed(1)} s: ${completed} checkouts, ${what}`,
        );
      at(`killing broker ${node.index + 1}, the live client's`);
      phase = 'broker killed';
      const before = live.reconnects();
      await topology.kill('broker', node.index);
      t.equal(
        topology.replicas('broker')[node.index]!.alive,
        false,
        'the live client’s node is dead',
      );
      await eventually('the live client connected again', () => live.reconnects() > before);
      at('the live client reconnected');
      await pay(liveShopper, order.id);
      at('its order paid');
      await eventually('the paid status, heard after reconnecting', () =>
        live.heard.some((event) => event.orderId === order.id && event.status === 'paid'),
      );
      at('the paid status heard');
      await progress(3);
      at('restarting the broker');
      phase = 'broker restarting';
      await topology.restart('broker', node.index);
      at('the broker restarted');
      await progress(2);
      at('the load went on');
    } catch (error) {
      aborted ??= error as Error;
    } finally {
      killsDone = true;
    }
    await load;
    if (aborted) throw aborted;
    phase = 'settled';
    t.comment(`${((Date.now() - loadStart) / 1000).toFixed(1)} s: the load ended`);

    const gets5xx = seen.filter((r) => r.method === 'GET' && unclean(r));
    t.same(gets5xx, [], 'no GET was answered 5xx or went unanswered');
    const posts = seen.filter((r) => r.method !== 'GET');
    const uncleanPosts = posts.filter(unclean);
    const byPhase: Record<string, number> = {};
    for (const post of uncleanPosts) {
      const where = `${post.what} while ${post.phase}`;
      byPhase[where] = (byPhase[where] ?? 0) + 1;
    }
    // What nginx did about it: requests it passed on to a second upstream after the first failed.
    const failedOver = (await readFile(topology.accessLog, 'utf8'))
      .split('\n')
      .filter((line) => line.includes('"upstream":"') && /"upstream":"[^"]*, /.test(line))
      .map((line) => JSON.parse(line) as { method: string; status: number });
    for (const line of slow) t.comment(line);
    if (declinedByRecovery.length > 0) {
      t.comment(
        `declined processing_error by payments' recovery (their replica died mid-charge), ` +
          `then paid under a new key: ${declinedByRecovery.join(', ')}`,
      );
    }
    t.comment(
      `${started} checkouts by ${shopperCount} shoppers; ${seen.length} requests; ` +
        `${uncleanPosts.length} POSTs answered 5xx or not at all, each retried to success ` +
        `(${JSON.stringify(byPhase)}); payments retried by phase: ${JSON.stringify(retried)}; ` +
        `nginx failed over ${failedOver.length} requests (${failedOver.map((r) => `${r.method} ${r.status}`).join(', ')})`,
    );

    // Settled by the rows themselves: every order paid, its stock committed.
    const orders = await eventually('every order paid with its stock committed', async () => {
      const { rows } = await topology.db.orders.query<{
        id: string;
        status: string;
        reservation: string;
        payment_id: string | null;
      }>('select id, status, reservation, payment_id from orders where id = any($1::uuid[])', [
        placed,
      ]);
      return rows.length === placed.length &&
        rows.every((row) => row.status === 'paid' && row.reservation === 'committed')
        ? rows
        : undefined;
    });
    t.equal(
      orders.length,
      new Set(placed).size,
      'every order a shopper placed is in orders’ database',
    );

    const { rows: charges } = await topology.db.payments.query<{
      order_id: string;
      ids: string[];
    }>(
      `select order_id::text, array_agg(id::text) as ids from payments
        where status in ('succeeded', 'refunded') group by order_id`,
    );
    const chargedTwice = charges.filter((row) => row.ids.length > 1);
    t.same(chargedTwice, [], 'no order was charged twice (none refunded as a duplicate either)');
    const chargeOf = new Map(charges.map((row) => [row.order_id, row.ids[0]]));
    t.same(
      orders.filter((row) => chargeOf.get(row.id) !== row.payment_id),
      [],
      'each paid order has exactly one captured payment, the one orders recorded',
    );

    const { rows: reservations } = await topology.db.inventory.query<{
      order_id: string;
      status: string;
    }>('select order_id, status from reservations where order_id = any($1)', [placed]);
    t.same(
      reservations.filter((row) => row.status !== 'committed'),
      [],
      'every paid order’s reservation is committed',
    );
    t.equal(reservations.length, orders.length, 'one reservation per order');
    const { rows: settledOrders } = await topology.db.orders.query<{ id: string }>(
      `select id::text from orders where status <> 'awaiting_payment' and status <> 'payment_failed'`,
    );
    const { rows: held } = await topology.db.inventory.query(
      `select order_id, expires_at < now() as past_deadline from reservations
        where status = 'active' and (expires_at < now() or order_id = any($1))`,
      [settledOrders.map((row) => row.id)],
    );
    t.same(held, [], 'no reservation held for a paid or cancelled order, nor past its deadline');
    const { rows: drift } = await topology.db.inventory.query(
      `select s.product_id, s.region, s.reserved, coalesce(sum(l.quantity), 0)::int as held
         from stock s
         left join reservations r on r.region = s.region and r.status = 'active'
         left join reservation_lines l on l.order_id = r.order_id and l.product_id = s.product_id
        group by s.product_id, s.region, s.reserved
       having s.reserved <> coalesce(sum(l.quantity), 0)`,
    );
    t.same(drift, [], 'stock reserved is exactly what active reservations hold');
  },
);
