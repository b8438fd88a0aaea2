import { createMetrics } from '@mercado/common/metrics';
import { captureLogs, freePort, testBrokerCredentials } from '@mercado/common/testing';
import {
  createMercadoBroker,
  createTerminalVerifier,
  loadBrokerConfig,
  startListeners,
} from '@mercado/broker/testing';
import { internalSecret } from '@mercado/products/testing';
import { startStorefront, type Storefront } from './storefront.js';

/**
 * The storefront with a live channel for the back office: the gateway passes `/mqtt` to a broker
 * that takes browsers' real access tokens (users' JWKS) and verifies terminals against users'
 * registry, listening for MQTT over WebSocket as `npm start`'s broker does. The checkout system's
 * own broker does neither yet (it is started without a key set or a WebSocket listener), so this
 * second broker carries the browser's live connection and the test's terminals; everything else
 * (payments, orders, users' presence) stays on the system's broker.
 */
export interface AdminShop extends Storefront {
  /** The live broker's MQTT over TCP, where a test's terminal connects. */
  liveMqttUrl: string;
}

interface TestContext {
  teardown(fn: () => unknown): void;
}

export async function startAdminShop(t: TestContext): Promise<AdminShop> {
  // Its HTTP port first: the gateway is told where /mqtt goes when it starts.
  const httpPort = await freePort();
  const shop = await startStorefront(t, {
    gatewayEnv: { BROKER_WS_URL: `ws://127.0.0.1:${httpPort}/mqtt` },
  });
  const usersUrl = shop.system.users.url;
  const config = loadBrokerConfig({
    INTERNAL_SECRET: internalSecret,
    ...testBrokerCredentials(),
    JWKS_URL: `${usersUrl}/api/auth/jwks.json`,
    USERS_URL: usersUrl,
    HOST: '127.0.0.1',
    PORT: String(httpPort),
    MQTT_PORT: '0',
  });
  const { log } = captureLogs('live-broker');
  const metrics = createMetrics('broker');
  const broker = await createMercadoBroker({
    config,
    log,
    metrics,
    verifyTerminal: createTerminalVerifier({
      usersUrl,
      internalSecret,
      cacheTtlMs: config.TERMINAL_CHECK_TTL_MS,
    }),
  });
  const listeners = await startListeners(broker, { config, log, metrics });
  t.teardown(async () => {
    await broker.close();
    await listeners.close();
  });
  return { ...shop, liveMqttUrl: listeners.mqttUrl };
}
