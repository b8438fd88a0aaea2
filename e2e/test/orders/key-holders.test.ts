import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Knex } from '@mercado/common/db';
import { callService, freePort, type CallResult } from '@mercado/common/testing';
import {
  address,
  as,
  checkout,
  eventually,
  listenAs,
  ordersBuiltMain,
  placeOrder,
  publishResult,
  startBroker,
  startShop,
  type Shop,
} from './shop.js';

/**
 * Who holds an Idempotency-Key while its request runs (services/orders/README.md,
 * "Idempotency"): the replica running it, for as long as it lives. A second orders replica runs
 * as a process of its own (the built main, as production runs it), so it can be SIGKILLed
 * mid-request by its pid; the in-process replica is the one the retries reach. One shop for every
 * subtest.
 */

const builtMain = fileURLToPath(ordersBuiltMain);

const mqttUrl = await startBroker(t);
const payments = await listenAs(t, mqttUrl, 'payments', ['payments/intents']);
const gateway = await listenAs(t, mqttUrl, 'gateway', ['orders/+/+/status']);
const shop = await startShop(t, { MQTT_URL: mqttUrl });
const { db } = shop.orders;

interface HeldReservation {
  orderId: string;
  /** Gives the replica inventory's answer at last. */
  release(): void;
}

/**
 * Inventory as the process replica reaches it: every call passes through, except that a
 * reservation, once inventory has made it, is answered only on `release()` — a call that hangs
 * after inventory acted, the moment a replica is most likely to die holding a key.
 */
async function startInventoryGate(upstream: string) {
  const held: HeldReservation[] = [];
  const waiting: Array<(reservation: HeldReservation) => void> = [];
  const server = createServer(function gate(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async function forward() {
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(name))
          headers[name] = value;
      }
      const answer = await fetch(`${upstream}${req.url}`, {
        method: req.method!,
        headers,
        ...(body.length > 0 ? { body } : {}),
      });
      const text = await answer.text();
      const reply = () =>
        res
          .writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'application/json',
          })
          .end(text);
      if (req.method !== 'POST' || req.url !== '/internal/reservations') return reply();
      const reservation = {
        orderId: JSON.parse(body.toString()).orderId as string,
        release: reply,
      };
      held.push(reservation);
      for (const wake of waiting.splice(0)) wake(reservation);
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    /** The reservation inventory made for this request, which the gate holds. */
    heldFor(request: Promise<unknown>): Promise<HeldReservation> {
      return Promise.race([
        new Promise<HeldReservation>((resolve) => waiting.push(resolve)),
        request.then((answer) => {
          throw new Error(`answered before reserving: ${JSON.stringify(answer)}`);
        }),
      ]);
    },
  };
}

const gate = await startInventoryGate(shop.inventory.url);

/** Another orders replica as its own process, on the shop's database; inventory behind the gate. */
async function startReplicaProcess() {
  const child = spawn(process.execPath, [builtMain], {
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: shop.orders.config.DATABASE_URL,
      INTERNAL_SECRET: shop.orders.config.INTERNAL_SECRET,
      PRODUCTS_URLS: shop.products.url,
      INVENTORY_URLS: gate.url,
      // Its held call "never" answers: it is killed, or released, long before this.
      INVENTORY_TIMEOUT_MS: '60000',
      SWEEP_INTERVAL_MS: '3600000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    return exited;
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', function read(chunk: Buffer) {
      output += chunk.toString();
      const listening = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
      if (listening) resolve(listening[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the replica exited (${code}): ${output}`)));
  });
  return {
    call: (method: string, path: string, options: Parameters<typeof callService>[4]) =>
      callService(url, shop.orders.config.INTERNAL_SECRET, method, path, options),
    /** Its log lines so far. */
    logs: () =>
      output
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    /** SIGKILL by its pid; settles once it has exited. */
    async kill() {
      process.kill(child.pid!, 'SIGKILL');
      await exited;
    },
  };
}

/** No session holds an advisory lock in the orders database: no key is held. */
function noKeyHeld(db: Knex) {
  return eventually(async () => {
    const { rows } = await db.raw<{ rows: unknown[] }>(
      `select 1 from pg_locks
        where locktype = 'advisory'
          and database = (select oid from pg_database where datname = current_database())`,
    );
    return rows.length === 0;
  });
}

/**
 * Postgres has ended every session of the killed replica: its pool's (named as main names them,
 * `mercado-orders`; the in-process replica's have no name) and so its lock session's, whose
 * advisory locks are gone with it (the in-process replica holds none between requests).
 */
function replicaGone(db: Knex) {
  return eventually(async () => {
    const { rows } = await db.raw<{ rows: Array<{ sessions: number; locks: number }> }>(
      `select (select count(*) from pg_stat_activity
                where datname = current_database() and application_name = 'mercado-orders')::int
                as sessions,
              (select count(*) from pg_locks
                where locktype = 'advisory'
                  and database = (select oid from pg_database where datname = current_database()))::int
                as locks`,
    );
    return rows[0]!.sessions === 0 && rows[0]!.locks === 0;
  });
}

async function fillCart(user: ReturnType<typeof as.customer>, productId: string, quantity = 1) {
  const added = await shop.orders.call('POST', '/api/cart/items', {
    identity: user,
    body: { productId, quantity },
  });
  if (added.status !== 200) throw new Error(`adding gave ${added.status}`);
}

function checkoutOn(
  replica: { call(method: string, path: string, options: object): Promise<CallResult> },
  user: ReturnType<typeof as.customer>,
  key: string,
) {
  return replica.call('POST', '/api/orders', {
    identity: user,
    headers: { 'idempotency-key': key },
    body: { shippingAddress: address },
  });
}

/**
 * A customer with `quantity` of a new product in the cart checks out under `key` on a new
 * process replica, whose call to inventory the gate holds once the stock is reserved.
 */
async function checkoutHeld(key: string, quantity: number) {
  const lamp = await shop.sell({ stock: { north: 5 } });
  const user = as.customer();
  await fillCart(user, lamp.id, quantity);
  const replica = await startReplicaProcess();
  const first = checkoutOn(replica, user, key).catch((error: Error) => error);
  const held = await gate.heldFor(first);
  return { lamp, user, replica, first, held };
}

async function reservationsOf(shop: Shop, orderId: string) {
  return shop.inventory.db('reservations').where({ order_id: orderId });
}

t.test(
  'a checkout whose replica is alive keeps its key: another replica answers 409 until it answers, then replays its order',
  async (t) => {
    const { user: ana, replica, first, held } = await checkoutHeld('live-1', 2);

    const meanwhile = await placeOrder(shop, ana, 'live-1');
    t.match(
      meanwhile,
      { status: 409, body: { code: 'idempotency_key_in_use' } },
      'the live holder keeps the key',
    );
    t.equal(meanwhile.headers.get('retry-after'), '1');
    t.same(await db('orders').where({ user_id: ana.userId }).pluck('id'), [], 'no order yet');

    held.release();
    const answered = await first;
    if (answered instanceof Error) throw answered;
    t.equal(answered.status, 201, 'the holder finishes its checkout');
    t.equal(answered.body.id, held.orderId);
    const replayed = await placeOrder(shop, ana, 'live-1');
    t.equal(replayed.status, 201);
    t.equal(replayed.headers.get('idempotent-replayed'), 'true');
    t.same(replayed.body, answered.body, 'the other replica gives the holder’s answer');
    await replica.kill();
  },
);

t.test(
  'a checkout whose replica was SIGKILLed mid-request: the retry on another replica takes the key over at once and completes it, one order and one reservation',
  async (t) => {
    const { lamp, user: ben, replica, first, held } = await checkoutHeld('killed-1', 2);
    t.equal((await reservationsOf(shop, held.orderId)).length, 1, 'inventory reserved first');

    await replica.kill();
    t.type(await first, Error, 'the killed replica never answered');
    await replicaGone(db);
    // At once: not after any lock time runs out.
    const retried = await placeOrder(shop, ben, 'killed-1');
    t.equal(retried.status, 201, 'the first retry after the kill places the order');
    t.equal(retried.headers.get('idempotent-replayed'), null);
    t.equal(retried.body.id, held.orderId, 'under the order id the key chose first');

    t.same(
      await db('orders').where({ user_id: ben.userId }).pluck('id'),
      [held.orderId],
      'one order',
    );
    const reservations = await reservationsOf(shop, held.orderId);
    t.equal(reservations.length, 1, 'one reservation');
    const stock = await shop.inventory.db('stock').where({ product_id: lamp.id }).first();
    t.equal(stock.reserved, 2, 'reserved once');
    t.match(await db('idempotency_keys').where({ user_id: ben.userId, key: 'killed-1' }).first(), {
      claim: null,
      locked_at: null,
      response_status: 201,
    });
    t.ok(
      shop.orders.logs.lines.some(
        (line) => line.outcome === 'taken_over' && line.id === held.orderId,
      ),
      'the takeover is logged',
    );
    const again = await placeOrder(shop, ben, 'killed-1');
    t.equal(again.headers.get('idempotent-replayed'), 'true');
    t.same(again.body, retried.body);
  },
);

t.test(
  'a refund whose replica is alive keeps its key; SIGKILLed mid-request, the retry on another replica takes it over at once: one refund',
  async (t) => {
    const lamp = await shop.sell({ stock: { north: 5 } });
    const placed = await checkout(shop, as.customer(), [{ productId: lamp.id, quantity: 1 }]);
    const orderId: string = placed.body.id;
    await payments.next((message) => message.payload.orderId === orderId);
    await publishResult(payments, { type: 'payment.approved', orderId, paymentId: randomUUID() });
    await gateway.next(
      (message) => message.payload.orderId === orderId && message.payload.status === 'paid',
    );
    const admin = as.admin();
    const refund = (replica: { call(m: string, p: string, o: object): Promise<CallResult> }) =>
      replica.call('POST', `/api/orders/${orderId}/refund`, {
        identity: admin,
        headers: { 'idempotency-key': 'refund-1' },
        body: { reason: 'damaged' },
      });

    // The refund's transaction waits on the order's row, which the test holds.
    const blocker = await db.transaction();
    t.teardown(() => blocker.rollback().catch(() => undefined));
    await blocker('orders').where({ id: orderId }).forUpdate();
    const replica = await startReplicaProcess();
    const first = refund(replica).catch((error: Error) => error);
    await eventually(async () => {
      const { rows } = await db.raw<{ rows: unknown[] }>(
        `select 1 from pg_stat_activity
          where datname = current_database() and application_name = 'mercado-orders'
            and wait_event_type = 'Lock'`,
      );
      return rows.length > 0;
    });

    t.match(
      await refund(shop.orders),
      { status: 409, body: { code: 'idempotency_key_in_use' } },
      'the live holder keeps the key',
    );

    await replica.kill();
    t.type(await first, Error, 'the killed replica never answered');
    await blocker.rollback();
    await replicaGone(db);
    const retried = await refund(shop.orders);
    t.equal(retried.status, 202, 'the first retry after the kill requests the refund');
    t.match(retried.body.refund, { status: 'pending', amountMinor: placed.body.totalMinor });
    t.equal((await db('refunds').where({ order_id: orderId })).length, 1, 'one refund');
    const requested = await db('outbox')
      .whereRaw(`payload->>'type' = 'refund.requested' and payload->>'orderId' = ?`, [orderId])
      .count<Array<{ n: number }>>('* as n');
    t.equal(Number(requested[0]!.n), 1, 'payments is asked once');
  },
);

t.test(
  'a holder whose lock session was lost and whose key was taken over meanwhile keeps nothing: its late write is refused, the retry completes the checkout once',
  async (t) => {
    const { user: eva, replica, first, held } = await checkoutHeld('fenced-1', 1);

    // Its lock session ends under it (Postgres restarted, the network): its lock is gone...
    const { rows } = await db.raw<{ rows: Array<{ ended: boolean }> }>(
      `select pg_terminate_backend(pid) as ended from pg_locks
        where locktype = 'advisory'
          and database = (select oid from pg_database where datname = current_database())`,
    );
    t.same(rows, [{ ended: true }], 'the holder’s lock session, the one session holding a lock');
    // ...and another replica took the key over, as its claim writes it.
    await db('idempotency_keys')
      .where({ user_id: eva.userId, key: 'fenced-1' })
      .update({ claim: randomUUID() });

    held.release();
    t.match(
      await first,
      { status: 409, body: { code: 'idempotency_key_in_use' } },
      'the holder, taken over, keeps nothing and sends its client to retry',
    );
    t.same(await db('orders').where({ user_id: eva.userId }).pluck('id'), [], 'no order of its');
    t.match(await db('idempotency_keys').where({ user_id: eva.userId, key: 'fenced-1' }).first(), {
      response_status: null,
    });
    t.ok(
      replica.logs().some((line) => line.outcome === 'taken_over' && line.id === held.orderId),
      'the holder logs that it was taken over',
    );

    await noKeyHeld(db);
    const retried = await placeOrder(shop, eva, 'fenced-1');
    t.equal(retried.status, 201);
    t.equal(retried.body.id, held.orderId);
    t.same(await db('orders').where({ user_id: eva.userId }).pluck('id'), [held.orderId]);
    t.equal((await reservationsOf(shop, held.orderId)).length, 1, 'one reservation');
    await replica.kill();
  },
);
