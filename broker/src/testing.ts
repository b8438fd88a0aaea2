import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createMetrics } from '@mercado/common/metrics';
import { captureLogs, testBrokerCredentials } from '@mercado/common/testing';
import { createMercadoBroker, loadBrokerConfig } from './index.js';

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
  logs: ReturnType<typeof captureLogs>;
  close(): Promise<void>;
}

/**
 * The real Mercado broker in the test's process, on a free port of 127.0.0.1, admitting every
 * contract service with its test password (`testServiceMqttCredentials`), browsers' tokens
 * against a JWKS nobody serves unless `env` names one; closed at the test's teardown.
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
  const broker = await createMercadoBroker({
    config,
    log: logs.log,
    metrics: createMetrics('broker'),
  });
  const server = net.createServer({ noDelay: true }, (socket) => broker.handle(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    const stopped = new Promise((resolve) => server.close(resolve));
    await broker.close();
    await stopped;
  };
  t.teardown(close);
  return { url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`, logs, close };
}
