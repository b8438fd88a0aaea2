import net from 'node:net';
import { Aedes } from 'aedes';
import { createLogger } from '@mercado/common/log';
import { createMetrics } from '@mercado/common/metrics';
import { createMercadoBroker, loadBrokerConfig, startListeners } from '@mercado/broker';

/**
 * The broker under test, in a process of its own so that the load generator never shares its
 * event loop, started by bench/broker.ts: `bare` is aedes as it comes (default options, TCP_NODELAY on),
 * `mercado` is Mercado's broker as broker/src/main.ts starts it (authentication, the topic
 * contract's ACL and payload validation, the packet guard, the connection rate, metrics), with
 * its configuration from the environment. MQTT listens on a free port of 127.0.0.1.
 *
 * IPC: sends `{ type: 'ready', port }`; answers `{ type: 'usage' }` with its RSS, heap and CPU
 * time; `{ type: 'stop' }`, SIGTERM, SIGINT or the parent going away close it and exit 0 (so that
 * `--cpu-prof` writes its profile).
 */

export type BrokerKind = 'bare' | 'mercado';

export type ServerRequest = { type: 'usage' } | { type: 'stop' };
export type ServerMessage =
  | { type: 'ready'; port: number }
  | {
      type: 'usage';
      rss: number;
      heapUsed: number;
      external: number;
      /** CPU time since the process started, user + system, microseconds. */
      cpuMicros: number;
      /** Clients the broker holds, connected and authenticated. */
      clients: number;
    };

const kind = process.argv[2] as BrokerKind;
if ((kind !== 'bare' && kind !== 'mercado') || !process.send) {
  process.stderr.write('usage: broker-server bare|mercado (as a child process with IPC)\n');
  process.exit(2);
}

const send = (message: ServerMessage) => process.send!(message);

interface Running {
  port: number;
  clients(): number;
  close(): Promise<void>;
}

async function startBare(): Promise<Running> {
  const broker = await Aedes.createBroker();
  const server = net.createServer({ noDelay: true }, broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    clients: () => broker.connectedClients,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function startMercado(): Promise<Running> {
  const config = loadBrokerConfig({ ...process.env, HOST: '127.0.0.1', MQTT_PORT: '0', PORT: '0' });
  const log = createLogger({ name: 'broker', level: config.LOG_LEVEL });
  const metrics = createMetrics('broker');
  const broker = await createMercadoBroker({ config, log, metrics });
  const listeners = await startListeners(broker, { config, log, metrics });
  return {
    port: Number(new URL(listeners.mqttUrl).port),
    clients: () => broker.aedes.connectedClients,
    async close() {
      await broker.close();
      await listeners.close();
    },
  };
}

const server = kind === 'bare' ? await startBare() : await startMercado();

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  // Closing 10,000 clients takes a moment; never longer than this.
  setTimeout(() => process.exit(0), 5_000).unref();
  await server.close().catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.on('disconnect', () => void stop());
process.on('message', function onRequest(request: ServerRequest) {
  if (request.type === 'stop') {
    void stop();
    return;
  }
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  send({
    type: 'usage',
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    external: memory.external,
    cpuMicros: cpu.user + cpu.system,
    clients: server.clients(),
  });
});
send({ type: 'ready', port: server.port });
