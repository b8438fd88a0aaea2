import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { createMetrics } from '@mercado/common/metrics';
import { captureLogs, eventually, testBrokerCredentials } from '@mercado/common/testing';
import {
  createMercadoBroker,
  createTerminalVerifier,
  loadBrokerConfig,
  type MercadoBroker,
} from './index.js';
import { acceptWebSockets } from './listeners.js';

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
export { systemClock, type Clock } from './clock.js';

/** aedes' clients by id, with what each subscribed to: kept by aedes, left out of its types. */
function connectedClients(
  broker: MercadoBroker,
): Record<string, { connected: boolean; subscriptions: Record<string, unknown> } | undefined> {
  return (broker.aedes as unknown as { clients: ReturnType<typeof connectedClients> }).clients;
}

export interface TestBroker {
  /** `mqtt://127.0.0.1:{port}`: a TCP listener, as the broker's own listeners.ts opens it. */
  url: string;
  port: number;
  /**
   * `ws://127.0.0.1:{port}/mqtt`, MQTT over WebSocket as browsers speak it (listeners.ts), with
   * `{ websocket: true }`; on the same port after a restart.
   */
  wsUrl: string | undefined;
  /** The broker now listening (another one after a restart; undefined while stopped). */
  readonly broker: MercadoBroker | undefined;
  /** The broker's log lines, across restarts. */
  logs: ReturnType<typeof captureLogs>;
  /**
   * Stops it as a broker process dies: every connection dropped, the port closed. What it held in
   * memory (sessions, retained messages, QoS 1 messages in flight) is gone; on Redis (`REDIS_URL`)
   * it stays there for the next start. Idempotent.
   */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the same settings (a no-op while it runs). */
  start(): Promise<void>;
  /** `stop()` then `start()`: a broker restart, as clients see it. */
  restart(): Promise<void>;
  /**
   * Resolves once client `clientId` is connected to the running broker and holds a subscription
   * to `filter` (a `$share/…` one included): what a test waits for after a restart, before it
   * publishes what that client must hear (a message for a group with no member is for nobody).
   */
  subscribed(clientId: string, filter: string): Promise<void>;
  /** The ids of the clients connected to the running broker now (none while stopped). */
  clientIds(): string[];
  /** The same as `stop()`; the test's teardown calls it. */
  close(): Promise<void>;
  /**
   * Registers a payment terminal in the broker's stand-in registry (the users service's, when
   * `env` names no USERS_URL) and returns its secret: it connects as `terminal:{id}`, client id
   * `terminal-{id}`.
   */
  registerTerminal(terminalId: string, secret?: string): string;
}

/**
 * The real Mercado broker in the test's process, on a free port of 127.0.0.1, admitting every
 * contract service with its test password (`testServiceMqttCredentials`), browsers' tokens
 * against a JWKS nobody serves unless `env` names one; `env` sets anything else of its config
 * (e.g. MAX_PACKET_BYTES, REDIS_URL). Closed at the test's teardown. It can be stopped and
 * started again on the same port, so clients reconnect to it as to a restarted one. With
 * `USERS_URL`, terminals are verified by that users service instead of `registerTerminal`.
 */
export async function startTestBroker(
  t: { teardown(fn: () => unknown): void },
  env: Record<string, string> = {},
  { websocket = false }: { websocket?: boolean } = {},
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
  // MQTT_PORT when given: a test whose users service must know the broker's URL before the
  // broker can start (its terminal registry is that service) picks the port first.
  let port = Number(env.MQTT_PORT ?? 0);
  let wsPort = 0;
  let running:
    { server: net.Server; broker: MercadoBroker; web: http.Server | undefined } | undefined;
  // A stand-in for the users service's registry: what `registerTerminal` recorded, compared in
  // constant time as the registry compares hashes.
  const terminals = new Map<string, Buffer>();
  const verifyTerminal = async (terminalId: string, secret: Buffer) => {
    const known = terminals.get(terminalId);
    return known !== undefined && known.length === secret.length && timingSafeEqual(known, secret);
  };
  // With USERS_URL, the users service's registry, asked as main.ts asks it.
  const registry = config.USERS_URL
    ? createTerminalVerifier({
        usersUrl: config.USERS_URL,
        internalSecret: config.INTERNAL_SECRET,
        cacheTtlMs: config.TERMINAL_CHECK_TTL_MS,
      })
    : verifyTerminal;
  let stopping: Promise<void> | undefined;

  async function start() {
    if (running) return;
    await stopping;
    const broker = await createMercadoBroker({
      config,
      log: logs.log,
      metrics: createMetrics('broker'),
      verifyTerminal: registry,
    });
    const server = net.createServer({ noDelay: true }, (socket) => broker.handle(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as net.AddressInfo).port;
    let web: http.Server | undefined;
    if (websocket) {
      web = http.createServer((_req, res) => res.writeHead(404).end());
      acceptWebSockets(web, broker, config.MAX_PACKET_BYTES);
      await new Promise<void>((resolve, reject) => {
        web!.once('error', reject);
        web!.listen(wsPort, '127.0.0.1', () => resolve());
      });
      wsPort = (web.address() as net.AddressInfo).port;
    }
    running = { server, broker, web };
  }

  function stop(): Promise<void> {
    if (!running) return stopping ?? Promise.resolve();
    const { server, broker, web } = running;
    running = undefined;
    stopping = (async function stopBroker() {
      const stopped = new Promise((resolve) => server.close(resolve));
      const webStopped = web
        ? new Promise((resolve) => {
            web.close(resolve);
            web.closeAllConnections();
          })
        : undefined;
      // Open connections end with the broker; the server closes once they have.
      await broker.close();
      await stopped;
      await webStopped;
    })();
    return stopping;
  }

  await start();
  t.teardown(stop);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    wsUrl: websocket ? `ws://127.0.0.1:${wsPort}/mqtt` : undefined,
    get broker() {
      return running?.broker;
    },
    logs,
    stop,
    start,
    close: stop,
    async restart() {
      await stop();
      await start();
    },
    registerTerminal(terminalId, secret = randomBytes(24).toString('base64url')) {
      terminals.set(terminalId, Buffer.from(secret));
      return secret;
    },
    clientIds() {
      return running ? Object.keys(connectedClients(running.broker)) : [];
    },
    async subscribed(clientId, filter) {
      await eventually(`${clientId} subscribed to ${filter}`, () => {
        const client = running && connectedClients(running.broker)[clientId];
        return client?.connected === true && filter in client.subscriptions;
      });
    },
  };
}
