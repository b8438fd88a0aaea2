import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createMetrics } from '@mercado/common/metrics';
import { captureLogs, testBrokerCredentials } from '@mercado/common/testing';
import { createMercadoBroker, loadBrokerConfig, type MercadoBroker } from './index.js';

/**
 * `@mercado/broker/testing`: what other components' tests use to run Mercado's real broker in
 * their own process (build it, give it listeners, ask the users service about terminals). Test code
 * only: no running process imports it (lint refuses it).
 */
export {
  createMercadoBroker,
  loadBrokerConfig,
  startListeners,
  type BrokerConfig,
  type BrokerListeners,
  type MercadoBroker,
  type TerminalVerifier,
} from './index.js';
export { createTerminalVerifier } from './terminal-verifier.js';

export interface TestBroker {
  /** `mqtt://127.0.0.1:{port}`: a TCP listener, as the broker's own listeners.ts opens it. */
  url: string;
  port: number;
  /** The broker now listening (another one after `restart`). */
  readonly broker: MercadoBroker;
  logs: ReturnType<typeof captureLogs>;
  /**
   * Stops the broker (its connections end with it) and starts a fresh one on the same port: with
   * the in-memory persistence every session and retained message is gone.
   */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The real Mercado broker in the test's process, on a free port of 127.0.0.1, admitting every
 * contract service with its test password (`testServiceMqttCredentials`), browsers' tokens
 * against a JWKS nobody serves unless `env` names one; `env` sets anything else of its config
 * (e.g. MAX_PACKET_BYTES, REDIS_URL). Closed at the test's teardown.
 */
export async function startTestBroker(
  t: { teardown(fn: () => unknown): void },
  env: Record<string, string> = {},
): Promise<TestBroker> {
  const config = loadBrokerConfig({
    INTERNAL_SECRET: randomBytes(32).toString('base64url'),
    ...testBrokerCredentials(),
    JWKS_URL: 'http://127.0.0.1:1/jwks.json',
    MQTT_PORT: '0',
    PORT: '0',
    ...env,
  });
  const logs = captureLogs('broker');
  let running: { broker: MercadoBroker; server: net.Server } | undefined;
  let port = 0;
  /** A new broker on `port` (a free one the first time). */
  const open = async () => {
    const broker = await createMercadoBroker({
      config,
      log: logs.log,
      metrics: createMetrics('broker'),
    });
    const server = net.createServer({ noDelay: true }, (socket) => broker.handle(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as net.AddressInfo).port;
    running = { broker, server };
    return broker;
  };
  const close = async () => {
    const closing = running;
    running = undefined;
    if (!closing) return;
    const stopped = new Promise((resolve) => closing.server.close(resolve));
    // Open connections end with the broker; the server closes once they have.
    await closing.broker.close();
    await stopped;
  };
  let current = await open();
  t.teardown(close);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    get broker() {
      return current;
    },
    logs,
    async restart() {
      await close();
      current = await open();
    },
    close,
  };
}
