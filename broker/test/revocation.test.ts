import t from 'tap';
import type mqtt from 'mqtt';
import { createMetrics } from '@mercado/common/metrics';
import { listen } from '@mercado/common/http';
import { captureLogs, freePort, testMqttPassword } from '@mercado/common/testing';
import { buildGateway, loadGatewayConfig } from '@mercado/gateway/testing';
import { internalSecret, signUpAdmin, startUsers, strongPassword } from '@mercado/users/testing';
import { startProducts } from '@mercado/products/testing';
import { startInventory } from '@mercado/inventory/testing';
import { createTerminalVerifier } from '../src/index.js';
import { eventually, refusedWith, startBroker } from './helpers.js';

/**
 * Revocation across the system, with every part real: the users service (its outbox relayed to
 * the broker), the broker (its default key set at the users service's JWKS, its terminal
 * registry the users service), two gateways, products and inventory. Nothing here waits a fixed
 * time: each step waits for the event that proves it — a connection closed by the broker, the
 * gateway's log line saying it heard the announcement, a gateway reporting its list loaded.
 * "Within a second" is the design's bound, not something a test on a shared machine can time.
 */

type Teardown = { teardown(fn: () => unknown): void };
type Test = Teardown & { ok(value: unknown, message: string): void };

async function startGateway(t: Teardown, env: Record<string, string>) {
  const config = loadGatewayConfig({ INTERNAL_SECRET: internalSecret, ...env });
  const logs = captureLogs('gateway');
  const gateway = buildGateway({ config, log: logs.log, metrics: createMetrics('gateway') });
  const server = await listen(gateway.app);
  t.teardown(async () => {
    await server.close(100);
    await gateway.close();
  });
  const loaded = await gateway.ready(10_000);
  async function call(
    method: string,
    path: string,
    { token, body }: { token?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: any }> {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }
  /** Resolves once this gateway logged that it heard `userId`'s tokens revoked. */
  const heardRevocationOf = (userId: string) =>
    eventually(
      () =>
        logs.lines.some(
          (entry) => entry.msg === 'account tokens revoked' && entry.userId === userId,
        ),
      10_000,
    );
  return { call, logs, loaded, heardRevocationOf };
}

async function startSystem(t: Test) {
  // The broker's port first: users connects to it (and keeps trying) before it listens.
  const mqttPort = await freePort();
  const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
  const users = await startUsers(t, { MQTT_URL: mqttUrl });
  const broker = await startBroker(
    t,
    {
      INTERNAL_SECRET: internalSecret,
      MQTT_PORT: String(mqttPort),
      JWKS_URL: `${users.url}/api/auth/jwks.json`,
      USERS_URL: users.url,
      // Only an announcement can cut a terminal off within this test.
      TERMINAL_CHECK_TTL_MS: '3600000',
    },
    {
      remoteJwks: true,
      verifyTerminal: createTerminalVerifier({
        usersUrl: users.url,
        internalSecret,
        cacheTtlMs: 3_600_000,
      }),
    },
  );
  const products = await startProducts(t);
  const inventory = await startInventory(t, {
    PRODUCTS_URLS: products.url,
    INTERNAL_SECRET: internalSecret,
  });
  const gatewayEnv = {
    USERS_URLS: users.url,
    PRODUCTS_URLS: products.url,
    INVENTORY_URLS: inventory.url,
    MQTT_URL: mqttUrl,
    MQTT_PASSWORD: testMqttPassword('gateway'),
    JWKS_COOLDOWN_MS: '0',
  };
  const gateway = await startGateway(t, gatewayEnv);
  t.ok(gateway.loaded, 'the gateway loaded the revocation list before taking traffic');

  await signUpAdmin(users);
  const login = async (email: string) => {
    const answer = await gateway.call('POST', '/api/auth/login', {
      body: { email, password: strongPassword },
    });
    return answer.body as { accessToken: string; user: { id: string } };
  };
  const admin = (await login('admin@mercado.test')).accessToken;
  const signUp = async (email: string, roles: string[]) => {
    const answer = await gateway.call('POST', '/api/auth/register', {
      body: { email, password: strongPassword, name: 'Seller', roles },
    });
    const { accessToken, user } = answer.body as { accessToken: string; user: { id: string } };
    return { token: accessToken, userId: user.id };
  };
  const newProduct = (token: string, sku: string) =>
    gateway.call('POST', '/api/products', {
      token,
      body: { sku, name: `Product ${sku}`, priceMinor: 1_000, currency: 'EUR' },
    });
  const setStock = (token: string, productId: string, onHand: number) =>
    gateway.call('PUT', `/api/inventory/${productId}/north`, {
      token,
      body: { onHand, reason: 'count' },
    });
  const browserOptions = (userId: string, token: string, suffix: string) => ({
    clientId: `web-${userId}-${suffix}`,
    username: 'browser',
    password: token,
  });
  return {
    users,
    broker,
    products,
    gateway,
    gatewayEnv,
    admin,
    login,
    signUp,
    newProduct,
    setStock,
    browserOptions,
  };
}

const closedByBroker = (client: mqtt.MqttClient) =>
  new Promise<void>((resolve) => client.once('close', () => resolve()));

t.test('a disabled seller’s kept token stops working everywhere', async (t) => {
  const system = await startSystem(t);
  const { gateway, broker, admin, signUp, newProduct, setStock, browserOptions } = system;
  const seller = await signUp('seller@example.com', ['seller']);

  const created = await newProduct(seller.token, 'SKU-1');
  t.equal(created.status, 201, 'before: the seller lists a product');
  const productId = created.body.id as string;
  const stocked = await setStock(seller.token, productId, 5);
  t.equal(stocked.status, 200, 'and sets its stock', { body: stocked.body });
  const shop = await broker.connect(
    broker.listeners.mqttUrl,
    browserOptions(seller.userId, seller.token, 'shop'),
  );
  t.ok(shop.connected, 'and its browser is connected to the broker');
  const shopClosed = closedByBroker(shop);

  const disabled = await gateway.call('PATCH', `/api/users/${seller.userId}`, {
    token: admin,
    body: { disabled: true },
  });
  t.equal(disabled.status, 200, 'an admin disables the account');

  await shopClosed;
  t.pass('the broker closed the seller’s live browser connection');
  t.ok(await gateway.heardRevocationOf(seller.userId), 'the gateway heard the announcement');
  const refused = await newProduct(seller.token, 'SKU-2');
  t.equal(refused.status, 401);
  t.equal(refused.body.code, 'token_revoked', 'the kept token cannot create a product');
  const stock = await setStock(seller.token, productId, 50);
  t.same([stock.status, stock.body.code], [401, 'token_revoked'], 'nor change stock');
  const [count] = await system.products.db('products').count('* as n');
  t.equal(Number(count!.n), 1, 'and nothing was written');
  t.equal(
    await refusedWith(
      broker.listeners.mqttUrl,
      browserOptions(seller.userId, seller.token, 'again'),
    ),
    4,
    'the broker refuses the token on a new connection',
  );

  const laterNode = await startBroker(
    t,
    {
      INTERNAL_SECRET: internalSecret,
      JWKS_URL: `${system.users.url}/api/auth/jwks.json`,
      USERS_URL: system.users.url,
    },
    { remoteJwks: true },
  );
  t.ok(
    await eventually(() => laterNode.logs.text().includes('revocation list loaded'), 10_000),
    'a broker node started after the announcement fetched the list',
  );
  t.equal(
    await refusedWith(
      laterNode.listeners.mqttUrl,
      browserOptions(seller.userId, seller.token, 'elsewhere'),
    ),
    4,
    'and refuses the token',
  );

  const later = await startGateway(t, system.gatewayEnv);
  t.ok(later.loaded, 'a gateway started after the announcement loaded the list');
  const afterRestart = await later.call('POST', '/api/products', {
    token: seller.token,
    body: { sku: 'SKU-3', name: 'Product', priceMinor: 1_000, currency: 'EUR' },
  });
  t.same(
    [afterRestart.status, afterRestart.body.code],
    [401, 'token_revoked'],
    'and refuses the token too',
  );
  t.notOk(
    gateway.logs.text().includes(seller.token) || broker.logs.text().includes(seller.token),
    'no token in any log',
  );
});

t.test('a demoted seller’s kept token can no longer edit its product', async (t) => {
  const { gateway, admin, signUp, login, newProduct } = await startSystem(t);
  const seller = await signUp('demoted@example.com', ['customer', 'seller']);
  const created = await newProduct(seller.token, 'SKU-9');
  t.equal(created.status, 201);
  const edit = (token: string, name: string) =>
    gateway.call('PATCH', `/api/products/${created.body.id}`, { token, body: { name } });
  t.equal((await edit(seller.token, 'Renamed')).status, 200, 'before: the seller edits it');

  const demoted = await gateway.call('PATCH', `/api/users/${seller.userId}`, {
    token: admin,
    body: { roles: ['customer'] },
  });
  t.equal(demoted.status, 200, 'an admin takes the seller role away');
  t.ok(await gateway.heardRevocationOf(seller.userId), 'the gateway heard the announcement');

  const refused = await edit(seller.token, 'Renamed again');
  t.same([refused.status, refused.body.code], [401, 'token_revoked'], 'the kept token is refused');
  const fresh = await login('demoted@example.com');
  const asCustomer = await edit(fresh.accessToken, 'Renamed again');
  t.same(
    [asCustomer.status, asCustomer.body.code],
    [403, 'forbidden'],
    'a fresh token works, with the roles the account has now',
  );
});

t.test('a rotated secret and a deleted terminal are cut off and refused', async (t) => {
  const { gateway, broker, admin } = await startSystem(t);
  const registered = await gateway.call('POST', '/api/terminals', {
    token: admin,
    body: { name: 'Till', id: 'till-1' },
  });
  t.equal(registered.status, 201);
  const options = (secret: string) => ({
    clientId: 'terminal-till-1',
    username: 'terminal:till-1',
    password: secret,
  });
  const url = broker.listeners.mqttUrl;
  /**
   * Connects with `secret`, has the admin `act`, and proves that the broker closed that
   * connection and refuses the secret from then on (though it had cached it as valid).
   */
  async function cutOff(secret: string, act: () => Promise<{ status: number; body: any }>) {
    const till = await broker.connect(url, options(secret));
    t.ok(till.connected, 'the terminal is connected');
    const closed = closedByBroker(till);
    const answer = await act();
    await closed;
    t.pass('the broker closed the connection made with it');
    t.equal(await refusedWith(url, options(secret)), 4, 'and refuses that secret');
    return answer;
  }

  const rotated = await cutOff(registered.body.secret as string, () =>
    gateway.call('POST', '/api/terminals/till-1/secret', { token: admin }),
  );
  t.equal(rotated.status, 200, 'an admin rotated its secret');
  const deleted = await cutOff(rotated.body.secret as string, () =>
    gateway.call('DELETE', '/api/terminals/till-1', { token: admin }),
  );
  t.equal(deleted.status, 204, 'an admin deleted the terminal');
  t.equal(await broker.metric('mqtt_denied_total', { action: 'recheck', kind: 'terminal' }), 2);
});

t.test('while the broker is unreachable, a gateway learns revocations from the list', async (t) => {
  const users = await startUsers(t);
  const products = await startProducts(t);
  // Nothing listens there: the gateway polls the users service instead.
  const gateway = await startGateway(t, {
    USERS_URLS: users.url,
    PRODUCTS_URLS: products.url,
    MQTT_URL: `mqtt://127.0.0.1:${await freePort()}`,
    MQTT_PASSWORD: testMqttPassword('gateway'),
    JWKS_COOLDOWN_MS: '0',
  });
  t.ok(gateway.loaded, 'the list loads without the broker');
  await signUpAdmin(users);
  const signIn = async (email: string) =>
    (await gateway.call('POST', '/api/auth/login', { body: { email, password: strongPassword } }))
      .body as { accessToken: string; user: { id: string } };
  const admin = await signIn('admin@mercado.test');
  await gateway.call('POST', '/api/auth/register', {
    body: { email: 'offline@example.com', password: strongPassword, name: 'S', roles: ['seller'] },
  });
  const seller = await signIn('offline@example.com');
  const list = (token: string) =>
    gateway.call('POST', '/api/products', {
      token,
      body: { sku: 'OFF-1', name: 'Product', priceMinor: 100, currency: 'EUR' },
    });
  t.equal((await list(seller.accessToken)).status, 201);
  await gateway.call('PATCH', `/api/users/${seller.user.id}`, {
    token: admin.accessToken,
    body: { disabled: true },
  });
  t.ok(await gateway.heardRevocationOf(seller.user.id), 'the next poll of the list brought it');
  const refused = await list(seller.accessToken);
  t.same([refused.status, refused.body.code], [401, 'token_revoked']);
});
