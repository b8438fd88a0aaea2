import { randomUUID } from 'node:crypto';
import { startTestBroker, type TestBroker } from '@mercado/broker/testing';
import { createDb, type Knex } from '@mercado/common/db';
import { listen, type ListeningServer } from '@mercado/common/http';
import { createMetrics, type Metrics } from '@mercado/common/metrics';
import { connectMqtt, sharedTopicFilter, type MqttClient } from '@mercado/common/mqtt';
import {
  callService,
  captureLogs,
  eventually,
  freePort,
  testMqttPassword,
  testServiceMqttCredentials,
  type CallResult,
} from '@mercado/common/testing';
import { buildGateway, loadGatewayConfig } from '@mercado/gateway/testing';
import {
  card,
  startPayments,
  testCards,
  type CardProcessor,
  type PaymentsHarness,
} from '@mercado/payments/testing';
import { startUsers, type UsersHarness } from '@mercado/users/testing';
import { internalSecret } from '@mercado/products/testing';
import { address, startOrders, startShop, type OrdersHarness, type Shop } from '../orders/shop.js';

/**
 * The whole checkout, every part real and in this test's process, each on free ports and its own
 * database: the broker (`@mercado/broker/testing`), users, products, inventory, orders (with its
 * results consumer and outbox relay on the broker), N payments replicas (consumers, relay and key
 * announcement running, sharing one database and the `$share/payments` group) and the gateway
 * (routing to users, products, inventory and orders, and bridging payments over MQTT). A shopper
 * talks to the gateway's HTTP API only, as a browser would.
 *
 * Failure tests stop and start parts while a checkout is under way:
 * - `stopBroker()` / `startBroker()` / `restartBroker()`: the broker, on the same port (in memory:
 *   a restart loses sessions, retained messages and QoS 1 messages in flight, as a broker process
 *   without persistence does). Every client reconnects by itself.
 * - `stopPayments(i?)` / `startPayments(n?)`: one replica (or all), as its process dies; new
 *   replicas start on the same database.
 * - `stopOrders()` / `startOrders()`: orders, restarted on its database and its port (the gateway
 *   keeps calling the same URL). `shop.orders` is always the running one.
 * - `stopGateway()` / `startGateway()`: the gateway, on the same port.
 * Users, products and inventory are not restarted by any test yet.
 *
 * Waits are on the events themselves (`eventually`, a row, a log line), never on time: see
 * `ready()` and `settled()`.
 */

interface TestContext {
  teardown(fn: () => unknown): void;
}

export interface CheckoutSystemOptions {
  /** Payments replicas started at once (default 1). */
  payments?: number;
  /** The gateway's PAYMENT_WAIT_MS (default 60 s: a test awaits the answer itself). */
  paymentWaitMs?: number;
  /** More settings for orders, payments (every replica) and the gateway. */
  ordersEnv?: Record<string, string>;
  paymentsEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  /**
   * Who vouches for payment terminals: the broker's stand-in (`broker.registerTerminal`, the
   * default) or the real users service (`'users'`: terminals registered through
   * `POST /api/terminals`, verified by the broker at USERS_URL, as in production).
   */
  terminalRegistry?: 'stand-in' | 'users';
  /** The card processor of every payments replica (default: the sandbox). */
  paymentsProcessor?: CardProcessor;
  /**
   * Browsers' live connections, as in `npm start`: the broker also listens for MQTT over
   * WebSocket and verifies browsers' access tokens against the users service's key set, and the
   * gateway passes `/mqtt` through to it (BROKER_WS_URL).
   */
  live?: boolean;
}

/** A signed-in shopper: the session the gateway gave them. */
export interface Shopper {
  userId: string;
  email: string;
  accessToken: string;
}

export interface PayOptions {
  /** Idempotency-Key of the payment (a new one unless given). */
  key?: string;
  /** The body, instead of `{ card }` (an amount, a wrong card…). */
  body?: unknown;
  /** Extra or replacing headers. */
  headers?: Record<string, string>;
}

export interface Purchase {
  order: { id: string; totalMinor: number; [field: string]: unknown };
  /** The gateway's answer to paying it. */
  payment: CallResult;
  /** The Idempotency-Key it was paid under. */
  key: string;
}

export interface CheckoutSystem {
  broker: TestBroker;
  /** Products, inventory and orders (`shop.orders` is the running orders; see startOrders). */
  shop: Shop;
  users: UsersHarness;
  /** The running payments replicas, in start order (a stopped one is removed). */
  payments: PaymentsHarness[];
  /** Every payments replica ever started, stopped ones included (their logs stay readable). */
  paymentsEver: PaymentsHarness[];
  /** The gateway's base URL (the same across restarts), its logs, its running process's metrics. */
  gateway: { url: string; logs: ReturnType<typeof captureLogs>; metrics: Metrics };
  /** Connections to orders' and payments' databases that outlive the services' stops. */
  db: { orders: Knex; payments: Knex };

  stopBroker(): Promise<void>;
  startBroker(): Promise<void>;
  restartBroker(): Promise<void>;
  /** Stops replica `index` (of `payments`), or every replica. */
  stopPayments(index?: number): Promise<void>;
  /** Starts `count` more replicas on payments' database (default 1); they are ready when it returns. */
  startPayments(count?: number): Promise<PaymentsHarness[]>;
  stopOrders(): Promise<void>;
  /** Starts orders again on its database and port; ready (consuming results) when it returns. */
  startOrders(): Promise<OrdersHarness>;
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;

  /**
   * Waits until every running part is connected and listening: the gateway knows payments' keys,
   * each payments replica and orders consume their topics on the current broker connection.
   */
  ready(): Promise<void>;
  /** A new shopper, registered through the gateway. */
  register(name?: string): Promise<Shopper>;
  /** Lists a product by a new seller with `stock` per region (default 1,000 in north). */
  sell: Shop['sell'];
  /** A request to the gateway as `shopper` (or anonymous). */
  api(
    shopper: Shopper | undefined,
    method: string,
    path: string,
    options?: { body?: unknown; headers?: Record<string, string> },
  ): Promise<CallResult>;
  /**
   * Cart → order through the gateway: adds `lines` to the shopper's cart and checks out. Resolves
   * once payments has the order's intent (a payment before it is refused `unknown_order`: see
   * payments' README), unless `intent: false`.
   */
  placeOrder(
    shopper: Shopper,
    lines: Array<{ productId: string; quantity: number }>,
    options?: { key?: string; intent?: boolean },
  ): Promise<Purchase['order']>;
  /** Resolves once payments has recorded what the order owes (its intent). */
  intentKnown(orderId: string): Promise<void>;
  /** `POST /api/orders/{id}/payments` through the gateway, with `{ card: card(number) }`. */
  pay(
    shopper: Shopper,
    orderId: string,
    number?: string,
    options?: PayOptions,
  ): Promise<CallResult>;
  /** Cart → order → pay, through the gateway: one of a new product unless `lines` are given. */
  buyAndPay(
    shopper: Shopper,
    number?: string,
    options?: PayOptions & { lines?: Array<{ productId: string; quantity: number }> },
  ): Promise<Purchase>;
  /** The order as its owner reads it through the gateway. */
  order(shopper: Shopper, orderId: string): Promise<Record<string, any>>;
  /**
   * Waits until the order is in one of `statuses` with its reservation settled as that status
   * wants (committed when paid, released when cancelled or expired): the end of a checkout.
   */
  settled(orderId: string, statuses: string[]): Promise<{ status: string; reservation: string }>;
  /** Checkouts answered 503 and asked again (products or inventory slow under load). */
  unavailableCheckouts: number;
  /** How many `payment processed` lines a replica logged (a charge it made, with `outcome`). */
  processedBy(replica: PaymentsHarness, outcome?: string): number;
}

/** What each order status wants of its reservation once settled (orders' README). */
const settledReservation: Record<string, string> = {
  paid: 'committed',
  partially_refunded: 'committed',
  refunded: 'committed',
  payment_failed: 'held',
  awaiting_payment: 'held',
  cancelled: 'released',
  expired: 'released',
};

const approvedCard = testCards.approved;

/** The whole checkout system; see the file's comment. */
export async function startCheckoutSystem(
  t: TestContext,
  options: CheckoutSystemOptions = {},
): Promise<CheckoutSystem> {
  const { broker, users } = await startBrokerAndUsers(t, options);
  const mqttEnv = { MQTT_URL: broker.url };
  // Orders sweeps on its timer, as in production, only faster: unpaid orders are asked about
  // every second, so a result or an intent the broker gave nobody is brought in (its README,
  // "Expiry and reconciliation").
  const ordersEnv = {
    SWEEP_INTERVAL_MS: '200',
    PAYMENT_CHECK_INTERVAL_SECONDS: '1',
    ...mqttEnv,
    ...options.ordersEnv,
  };
  const shop = await startShop(t, ordersEnv, { sweeping: true });
  const ordersUrl = shop.orders.config.DATABASE_URL;
  const ordersPort = shop.orders.port;

  const payments: PaymentsHarness[] = [];
  const paymentsEver: PaymentsHarness[] = [];
  let paymentsUrl: string | undefined;
  async function startReplicas(count = 1): Promise<PaymentsHarness[]> {
    const started: PaymentsHarness[] = [];
    for (let i = 0; i < count; i++) {
      const replica = await startPayments(
        t,
        { ...mqttEnv, ...options.paymentsEnv },
        {
          work: true,
          ...(paymentsUrl ? { databaseUrl: paymentsUrl } : {}),
          ...(options.paymentsProcessor ? { processor: options.paymentsProcessor } : {}),
        },
      );
      paymentsUrl ??= replica.config.DATABASE_URL;
      started.push(replica);
    }
    payments.push(...started);
    paymentsEver.push(...started);
    for (const replica of started) await consuming(broker, replica.mqtt, paymentsFilters(replica));
    return started;
  }
  await startReplicas(options.payments ?? 1);

  const db = {
    orders: ownConnection(t, ordersUrl),
    payments: ownConnection(t, paymentsUrl!),
  };

  const gatewayLogs = captureLogs('gateway');
  // Mutable: each start of the gateway is a new process, with metrics of its own.
  const gatewayView = { url: '', logs: gatewayLogs, metrics: createMetrics('gateway') };
  let gatewayPort = 0;
  let running: { server: ListeningServer; close(): Promise<void> } | undefined;
  async function startGateway(): Promise<void> {
    if (running) return;
    if (gatewayPort !== 0) gatewayView.metrics = createMetrics('gateway');
    const gateway = buildGateway({
      config: loadGatewayConfig({
        INTERNAL_SECRET: internalSecret,
        USERS_URLS: users.url,
        PRODUCTS_URLS: shop.products.url,
        INVENTORY_URLS: shop.inventory.url,
        ORDERS_URLS: `http://127.0.0.1:${ordersPort}`,
        MQTT_URL: broker.url,
        MQTT_PASSWORD: testMqttPassword('gateway'),
        PAYMENT_WAIT_MS: String(options.paymentWaitMs ?? 60_000),
        RATE_LIMIT_PER_IP: '0',
        RATE_LIMIT_PER_USER: '0',
        // A read after a write sees the write: no micro-cache between a test's steps.
        CACHE_TTL_MS: '0',
        ...(broker.wsUrl ? { BROKER_WS_URL: broker.wsUrl } : {}),
        ...options.gatewayEnv,
      }),
      log: gatewayLogs.log,
      metrics: gatewayView.metrics,
    });
    const server = await listen(gateway.app, { port: gatewayPort });
    server.server.on('upgrade', gateway.upgrade);
    gatewayPort = server.port;
    running = {
      server,
      async close() {
        await server.close(100);
        await gateway.close();
      },
    };
    await gateway.ready();
  }
  async function stopGateway(): Promise<void> {
    const stopping = running;
    running = undefined;
    await stopping?.close();
  }
  await startGateway();
  t.teardown(stopGateway);
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  gatewayView.url = gatewayUrl;

  // The kit's caller with no identity of its own: the gateway signs one from the token.
  const api: CheckoutSystem['api'] = (shopper, method, path, { body, headers } = {}) =>
    callService(gatewayUrl, internalSecret, method, path, {
      headers: {
        ...(shopper ? { authorization: `Bearer ${shopper.accessToken}` } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body } : {}),
    });

  const system: CheckoutSystem = {
    broker,
    shop,
    users,
    payments,
    paymentsEver,
    gateway: gatewayView,
    db,
    stopBroker: () => broker.stop(),
    startBroker: () => broker.start(),
    restartBroker: () => broker.restart(),
    async stopPayments(index) {
      const stopping = index === undefined ? payments.splice(0) : payments.splice(index, 1);
      await Promise.all(stopping.map((replica) => replica.stop()));
    },
    startPayments: startReplicas,
    stopOrders: () => shop.orders.stop(),
    async startOrders() {
      shop.orders = await startOrders(
        t,
        {
          INTERNAL_SECRET: internalSecret,
          PRODUCTS_URLS: shop.products.url,
          INVENTORY_URLS: shop.inventory.url,
          ...ordersEnv,
        },
        { databaseUrl: ordersUrl, port: ordersPort, sweeping: true },
      );
      await consuming(broker, shop.orders.mqtt, [ordersResults]);
      return shop.orders;
    },
    stopGateway,
    startGateway,

    async ready() {
      await eventually('the gateway knows payments’ keys', async () => {
        const keys = await api(undefined, 'GET', '/api/payments/keys.json');
        return keys.status === 200;
      });
      for (const replica of payments) {
        await consuming(broker, replica.mqtt, paymentsFilters(replica));
      }
      await consuming(broker, shop.orders.mqtt, [ordersResults]);
    },

    async register(name = 'Shopper') {
      const email = `${name.toLowerCase().replace(/\W+/g, '-')}-${randomUUID()}@e2e.example`;
      const session = await api(undefined, 'POST', '/api/auth/register', {
        body: { email, password: 'correct horse battery staple', name },
      });
      if (session.status !== 201) {
        throw new Error(`registering gave ${session.status}: ${JSON.stringify(session.body)}`);
      }
      return { userId: session.body.user.id, email, accessToken: session.body.accessToken };
    },

    sell: ({ stock = { north: 1_000 }, ...fields } = {}) => shop.sell({ stock, ...fields }),
    api,

    async placeOrder(shopper, lines, { key = randomUUID(), intent = true } = {}) {
      for (const line of lines) {
        const added = await api(shopper, 'POST', '/api/cart/items', { body: line });
        if (added.status !== 200 && added.status !== 201) {
          throw new Error(`adding gave ${added.status}: ${JSON.stringify(added.body)}`);
        }
      }
      // A 503 (products or inventory could not answer in time) keeps nothing: the client asks
      // again under the same key, as orders' README says (one order, one reservation whatever).
      let placed: CallResult;
      for (let attempt = 1; ; attempt++) {
        placed = await api(shopper, 'POST', '/api/orders', {
          headers: { 'idempotency-key': key },
          body: { shippingAddress: address },
        });
        if (placed.status !== 503 || attempt === 5) break;
        system.unavailableCheckouts++;
      }
      if (placed.status !== 201) {
        throw new Error(`checkout gave ${placed.status}: ${JSON.stringify(placed.body)}`);
      }
      const order = placed.body as Purchase['order'];
      if (intent) await system.intentKnown(order.id);
      return order;
    },

    async intentKnown(orderId) {
      await eventually(`payments has the intent of ${orderId}`, () =>
        db.payments('intents').where({ order_id: orderId }).whereNotNull('amount_minor').first(),
      );
    },

    pay(shopper, orderId, number = approvedCard, { key = randomUUID(), body, headers } = {}) {
      return api(shopper, 'POST', `/api/orders/${orderId}/payments`, {
        headers: { 'idempotency-key': key, ...headers },
        body: body ?? { card: card(number) },
      });
    },

    async buyAndPay(shopper, number = approvedCard, { lines, key = randomUUID(), ...pay } = {}) {
      const bought = lines ?? [{ productId: (await system.sell()).id, quantity: 1 }];
      const order = await system.placeOrder(shopper, bought);
      const payment = await system.pay(shopper, order.id, number, { key, ...pay });
      return { order, payment, key };
    },

    async order(shopper, orderId) {
      const answer = await api(shopper, 'GET', `/api/orders/${orderId}`);
      if (answer.status !== 200) {
        throw new Error(`reading the order gave ${answer.status}: ${JSON.stringify(answer.body)}`);
      }
      return answer.body;
    },

    settled(orderId, statuses) {
      return eventually(`order ${orderId} settled as ${statuses.join(' or ')}`, async () => {
        const row = await db.orders('orders').where({ id: orderId }).first('status', 'reservation');
        if (!row || !statuses.includes(row.status)) return undefined;
        return row.reservation === settledReservation[row.status] ? row : undefined;
      });
    },

    unavailableCheckouts: 0,
    processedBy: (replica, outcome) =>
      replica.logs.lines.filter(
        (line) =>
          line.msg === 'payment processed' && (outcome === undefined || line.outcome === outcome),
      ).length,
  };
  await system.ready();
  return system;
}

/**
 * The broker and users, in the order the terminal registry needs: with the real registry the
 * broker verifies terminals at users' URL and users connects to the broker, so the broker's port
 * is chosen first and users started before it (users keeps trying to connect until it listens).
 * One secret for every part, as startShop gives products, inventory and orders.
 */
async function startBrokerAndUsers(
  t: TestContext,
  options: CheckoutSystemOptions,
): Promise<{ broker: TestBroker; users: UsersHarness }> {
  const usersEnv = { INTERNAL_SECRET: internalSecret };
  if (options.terminalRegistry !== 'users' && !options.live) {
    const broker = await startTestBroker(t);
    const users = await startUsers(t, { ...usersEnv, MQTT_URL: broker.url });
    return { broker, users };
  }
  // The broker asks the users service (terminals' secrets, browsers' keys), so users starts
  // first, on the broker's port chosen beforehand.
  const port = await freePort();
  const users = await startUsers(t, { ...usersEnv, MQTT_URL: `mqtt://127.0.0.1:${port}` });
  const broker = await startTestBroker(
    t,
    {
      INTERNAL_SECRET: internalSecret,
      MQTT_PORT: String(port),
      ...(options.terminalRegistry === 'users' ? { USERS_URL: users.url } : {}),
      ...(options.live ? { JWKS_URL: `${users.url}/api/auth/jwks.json` } : {}),
    },
    { websocket: options.live === true },
  );
  return { broker, users };
}

/** A connection of the test's own to a service's database, alive whatever the service does. */
function ownConnection(t: TestContext, url: string): Knex {
  const db = createDb({ url, log: captureLogs('e2e').log, poolMax: 2 });
  t.teardown(() => db.destroy());
  return db;
}

/** Orders' results consumer's filter (services/orders/src/consumers/payment-results.ts). */
const ordersResults = sharedTopicFilter('orders', 'paymentResults');

/**
 * Waits until a service's client is connected to the running broker and holds each of `filters`
 * there: after a broker restart, mqtt.js subscribes again by itself, and a message for a share
 * group with no member is for nobody, so a test publishes only once this holds.
 */
async function consuming(broker: TestBroker, mqtt: MqttClient | undefined, filters: string[]) {
  if (!mqtt) throw new Error('the service runs without MQTT');
  for (const filter of filters) await broker.subscribed(mqtt.options.clientId!, filter);
}

/** The filters a payments replica consumes (its consumers, as its work started them). */
function paymentsFilters(replica: PaymentsHarness): string[] {
  return (replica.work?.background ?? []).flatMap((task) =>
    'filter' in task && typeof task.filter === 'string' ? [task.filter] : [],
  );
}

/**
 * The shopper's live status topic (`orders/{userId}/+/status`), as their browser hears it — here
 * through the gateway's eyes: every `order.status_changed` heard, in order.
 */
export async function shopperStatus(
  t: TestContext,
  system: CheckoutSystem,
  shopper: Shopper,
): Promise<Array<{ orderId: string; status: string }>> {
  const client = await connectMqtt(system.broker.url, {
    clientId: `gateway-status-${randomUUID()}`,
    ...testServiceMqttCredentials('gateway'),
  });
  t.teardown(() => client.endAsync(true));
  const heard: Array<{ orderId: string; status: string }> = [];
  client.on('message', (_topic, payload) => heard.push(JSON.parse(payload.toString())));
  await client.subscribeAsync(`orders/${shopper.userId}/+/status`, { qos: 1 });
  return heard;
}
