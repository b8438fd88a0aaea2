import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { freePort, startTestRedis } from '@mercado/common/testing';
import { loadDemoData } from './demo/load.js';
import { loadOrCreateSecrets } from './local-secrets.js';
import { repoRoot } from './local-state.js';
import { renderNginxConfig, type NginxConfigOptions } from './nginx-config.js';
import { databaseUrl, ensureDatabases, startPostgres, type StartedPostgres } from './postgres.js';
import { localRegions, processes, type LaunchContext, type ProcessEntry } from './processes.js';
import { nginxStreamModule } from './system-packages.js';

/**
 * The production topology (docs/topology.md) as local processes, without Docker: nginx in front
 * of the frontend replicas (`/`), the gateway replicas (`/api/`) and the broker nodes (`/mqtt`
 * and the MQTT TCP stream); the broker nodes clustered on one redis-server; users, products and
 * inventory; orders and payments replicated; a Postgres server for the shop's databases (users,
 * products, inventory, orders) and one of payments' own. Each process is a child started from the
 * built `dist/`, wired by the env builders of `npm start` (processes.ts), on 127.0.0.1 and free
 * ports; each replica can be killed (SIGKILL) and started again by name and index.
 *
 * Services reach the broker through nginx's MQTT stream, as they reach `broker:1883` in Compose
 * (a name that resolves to a live node on every reconnect): a service whose node dies connects
 * again and lands on another node.
 */

/** The replicated and single processes of the topology, by the names `kill` and `restart` take. */
export type TopologyProcess =
  'users' | 'products' | 'inventory' | 'broker' | 'orders' | 'payments' | 'gateway' | 'frontend';

export type ShopDatabase = 'users' | 'products' | 'inventory' | 'orders' | 'payments';

export interface TopologyOptions {
  /** Replicas of the replicated parts (each default 2; users, products, inventory run one). */
  replicas?: Partial<Record<'broker' | 'orders' | 'payments' | 'gateway' | 'frontend', number>>;
  /** LOG_LEVEL of every service (default `warn`). */
  logLevel?: string;
  /** Every output line of every process (`gateway-1`, `nginx`, `postgres-shop`…); default none. */
  onLine?: (name: string, line: string) => void;
  /** nginx's public ports (default: free ones). */
  httpPort?: number;
  mqttPort?: number;
  /**
   * The edge's limit per client address on `/api/` (nginx `limit_req`): production's 50 r/s with
   * a burst of 100 would refuse a load from one address, so the default here is 2000 r/s, burst
   * 4000.
   */
  edgeRate?: string;
  edgeBurst?: number;
  /**
   * The gateways' own limits per address and per user (RATE_LIMIT_PER_IP / _PER_USER, counted in
   * the shared Redis); default 0 (off): every client here comes from 127.0.0.1.
   */
  gatewayRateLimits?: { perIp: number; perUser: number };
  /** nginx's worker processes (default `auto`). */
  nginxWorkers?: number | 'auto';
  /** Load the demo shop through nginx once everything is up (default true). */
  demo?: boolean;
  /** More settings for every replica of a process (wins over the topology's own). */
  env?: Partial<Record<TopologyProcess, Record<string, string>>>;
}

/** One running (or killed) replica. */
export interface ReplicaView {
  name: TopologyProcess;
  index: number;
  /** `http://127.0.0.1:PORT`: its HTTP port (health, metrics; the API for services). */
  url: string;
  /** A broker node's MQTT (TCP) port. */
  mqttPort?: number;
  pid: number | undefined;
  alive: boolean;
  /** Its last output lines (100), for a failure's message. */
  recentLines(): string[];
}

export interface Topology {
  /** nginx: the storefront at `/`, the API at `/api/`, live status at `/mqtt`. */
  url: string;
  /** `ws://…/mqtt` through nginx. */
  wsUrl: string;
  /** MQTT over TCP through nginx's stream (terminals). */
  mqttUrl: string;
  /** nginx's access log: one JSON object per request (`upstream` lists each upstream tried). */
  accessLog: string;
  /** The admin account users created at start, and the demo accounts' password. */
  admin: { email: string; password: string };
  demoPassword: string;
  /** The shop's regions (REGIONS; the first is a new cart's). */
  regions: string[];
  /** Connections of the caller's own to each service's database (payments' on its own server). */
  db: Record<ShopDatabase, pg.Pool>;
  replicas(name: TopologyProcess): ReplicaView[];
  /** SIGKILL to replica `index` of `name`; resolves once it has exited. */
  kill(name: TopologyProcess, index: number): Promise<void>;
  /** Starts a killed replica again on its ports and environment; resolves once it is ready. */
  restart(name: TopologyProcess, index: number): Promise<void>;
  /** Stops everything it started: the services (SIGTERM), nginx, Redis, Postgres; removes its files. */
  stop(): Promise<void>;
}

const host = '127.0.0.1';
const readyTimeoutMs = 60_000;
const recentLineCount = 100;

/** The entries of `npm start` the topology runs, by name (the frontend is its own, below). */
function entry(name: string): ProcessEntry {
  const found = processes.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`processes.ts has no ${name}`);
  return found;
}

class Replica implements ReplicaView {
  child: ChildProcess | undefined;
  private lines: string[] = [];
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: TopologyProcess,
    readonly index: number,
    readonly url: string,
    private readonly entryFile: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly onLine: (name: string, line: string) => void,
    readonly mqttPort?: number,
  ) {}

  get label(): string {
    return `${this.name}-${this.index + 1}`;
  }

  get pid(): number | undefined {
    return this.alive ? this.child?.pid : undefined;
  }

  get alive(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  recentLines(): string[] {
    return [...this.lines];
  }

  start(): void {
    if (this.alive) throw new Error(`${this.label} is running`);
    const child = spawn(process.execPath, [this.entryFile], {
      cwd: repoRoot,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    for (const stream of [child.stdout, child.stderr]) {
      readline
        .createInterface({ input: stream, crlfDelay: Infinity })
        .on('line', (line) => this.line(line));
    }
  }

  private line(text: string): void {
    this.lines.push(text);
    if (this.lines.length > recentLineCount) this.lines.shift();
    this.onLine(this.label, text);
  }

  /** Polls its readiness route until 200; a process that exits meanwhile fails it. */
  async ready(): Promise<void> {
    const deadline = Date.now() + readyTimeoutMs;
    while (this.alive) {
      try {
        const response = await fetch(`${this.url}/health/ready`, {
          signal: AbortSignal.timeout(1000),
        });
        await response.body?.cancel();
        if (response.ok) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(
      `${this.label} ${this.alive ? `was not ready within ${readyTimeoutMs / 1000} s` : 'exited'}` +
        ` (${this.url}); its last lines:\n${this.lines.slice(-15).join('\n')}`,
    );
  }

  async signal(signal: NodeJS.Signals): Promise<void> {
    if (this.alive) this.child!.kill(signal);
    await this.exited;
  }
}

/** A port free now and not one already handed out (a free port is not a reserved one). */
function portPicker(): () => Promise<number> {
  const taken = new Set<number>();
  return async () => {
    let port: number;
    do port = await freePort();
    while (taken.has(port));
    taken.add(port);
    return port;
  };
}

/** Starts the topology; see the file's comment. Everything started is stopped if a part fails. */
export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  const count = { broker: 2, orders: 2, payments: 2, gateway: 2, frontend: 2, ...options.replicas };
  const onLine = options.onLine ?? (() => {});
  const logLevel = options.logLevel ?? 'warn';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-topology-'));
  const stops: Array<() => unknown> = [];
  const replicas: Replica[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      // The services first (SIGTERM: each drains and closes), then what they use.
      await Promise.all(replicas.map((replica) => replica.signal('SIGTERM')));
      for (const fn of stops.splice(0).reverse()) await fn();
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  // Should this process end without stop(), no replica outlives it.
  const killAll = () => replicas.forEach((replica) => replica.child?.kill('SIGKILL'));
  process.on('exit', killAll);
  stops.push(() => process.off('exit', killAll));

  try {
    for (const file of [...processes.map((p) => p.entry), frontendEntry]) {
      if (!existsSync(path.join(repoRoot, file))) {
        throw new Error(`${file} is missing: build first (\`npm run build\`)`);
      }
    }
    const { secrets } = await loadOrCreateSecrets(dir);
    const pick = portPicker();
    const ports = {
      http: options.httpPort ?? (await pick()),
      mqtt: options.mqttPort ?? (await pick()),
    };
    const publicUrl = `http://${host}:${ports.http}`;
    const mqttUrl = `mqtt://${host}:${ports.mqtt}`;

    const [shopPg, paymentsPg, redis] = await Promise.all([
      postgresServer('shop', secrets.postgresPassword),
      postgresServer('payments', randomBytes(24).toString('base64url')),
      startTestRedis({ teardown: (fn) => void stops.push(fn) }),
    ]);
    await Promise.all([
      ensureDatabases(
        shopPg.url,
        (['users', 'products', 'inventory', 'orders'] as const).map(dbName),
      ),
      ensureDatabases(paymentsPg.url, [dbName('payments')]),
    ]);
    const serverOf = (name: ShopDatabase) => (name === 'payments' ? paymentsPg : shopPg).url;

    // Every replica's ports first, so every URL is known before anything starts.
    const planned: Array<{
      name: TopologyProcess;
      index: number;
      port: number;
      mqtt?: number;
      mqttProxy?: number;
    }> = [];
    for (const name of ['users', 'products', 'inventory'] as const) {
      planned.push({ name, index: 0, port: await pick() });
    }
    for (const name of ['broker', 'orders', 'payments', 'gateway', 'frontend'] as const) {
      for (let index = 0; index < count[name]; index++) {
        planned.push({
          name,
          index,
          port: await pick(),
          ...(name === 'broker' ? { mqtt: await pick(), mqttProxy: await pick() } : {}),
        });
      }
    }
    const urlsOf = (name: TopologyProcess) =>
      planned.filter((p) => p.name === name).map((p) => `http://${host}:${p.port}`);
    const addresses = (name: TopologyProcess, port: 'port' | 'mqtt' | 'mqttProxy' = 'port') =>
      planned.filter((p) => p.name === name).map((p) => `${host}:${p[port]!}`);

    const nginxConfig: NginxConfigOptions = {
      frontends: addresses('frontend'),
      gateways: addresses('gateway'),
      brokersHttp: addresses('broker'),
      // Each node's PROXY-protocol port: the broker holds every client to its own address.
      brokersMqtt: addresses('broker', 'mqttProxy'),
      brokerProxyProtocol: true,
      httpPort: ports.http,
      mqttPort: ports.mqtt,
      listenAddress: host,
      pidFile: path.join(dir, 'nginx', 'nginx.pid'),
      accessLog: path.join(dir, 'nginx', 'access.log'),
      tempDir: path.join(dir, 'nginx', 'temp'),
      streamModule: nginxStreamModule,
      apiRate: options.edgeRate ?? '2000r/s',
      apiBurst: options.edgeBurst ?? 4000,
      connectionsPerAddress: 1000,
      workerProcesses: options.nginxWorkers ?? 'auto',
    };

    const limits = options.gatewayRateLimits ?? { perIp: 0, perUser: 0 };
    const topologyEnv: Record<
      TopologyProcess,
      (replica: { mqttProxy?: number }) => Record<string, string>
    > = {
      users: () => ({}),
      products: () => ({}),
      inventory: () => ({}),
      broker: ({ mqttProxy }) => ({
        REDIS_URL: `${redis.url}/1`,
        // nginx's stream names each client in a PROXY header on this port (broker/README.md).
        MQTT_PROXY_PORT: String(mqttProxy),
        MQTT_PROXY_TRUSTED: host,
      }),
      orders: () => ({}),
      payments: () => ({}),
      gateway: () => ({
        RATE_LIMIT_PER_IP: String(limits.perIp),
        RATE_LIMIT_PER_USER: String(limits.perUser),
        RATE_LIMIT_REDIS_URL: `${redis.url}/0`,
      }),
      frontend: () => ({}),
    };

    for (const plan of planned) {
      const isFrontend = plan.name === 'frontend';
      const context: LaunchContext = {
        secrets,
        databaseUrl: isDatabase(plan.name)
          ? databaseUrl(serverOf(plan.name), dbName(plan.name))
          : '',
        urlOf: (name) => urlsOf(name as TopologyProcess).join(','),
        publicUrl,
        // A broker node listens on its own MQTT port; everyone else goes through nginx.
        mqttUrl: plan.mqtt ? `mqtt://${host}:${plan.mqtt}` : mqttUrl,
      };
      const own = isFrontend ? {} : entry(plan.name).env(context);
      // Behind nginx the gateway serves neither the site nor /mqtt (the gateway's README).
      delete own.SITE_DIR;
      delete own.BROKER_WS_URL;
      const env = {
        PATH: process.env.PATH ?? '',
        HOST: host,
        PORT: String(plan.port),
        LOG_LEVEL: logLevel,
        ...own,
        ...topologyEnv[plan.name](plan),
        ...options.env?.[plan.name],
      };
      replicas.push(
        new Replica(
          plan.name,
          plan.index,
          `http://${host}:${plan.port}`,
          isFrontend ? frontendEntry : entry(plan.name).entry,
          env,
          onLine,
          plan.mqtt,
        ),
      );
    }
    const of = (name: TopologyProcess) => replicas.filter((replica) => replica.name === name);
    const startAll = async (name: TopologyProcess) => {
      if (stopping) throw new Error('stopped while starting');
      for (const replica of of(name)) replica.start();
      await Promise.all(of(name).map((replica) => replica.ready()));
    };
    // Each part once what it calls is ready; the others meanwhile (two cores).
    const users = startAll('users');
    const products = startAll('products');
    const frontends = startAll('frontend');
    // nginx once the broker nodes and the frontends listen: its passive health check takes an
    // upstream that refused a connection out for fail_timeout (5 s), and the services reach the
    // broker through its stream. Users (which the nodes ask) connects meanwhile, as it can.
    const brokers = users.then(() => startAll('broker'));
    const edge = Promise.all([brokers, frontends]).then(async () => {
      stops.push(await startNginx(dir, onLine, nginxConfig));
    });
    const inventory = products.then(() => startAll('inventory'));
    const payments = edge.then(() => startAll('payments'));
    const orders = Promise.all([inventory, edge]).then(() => startAll('orders'));
    const gateways = Promise.all([orders, payments]).then(() => startAll('gateway'));
    await Promise.all([
      users,
      products,
      frontends,
      brokers,
      edge,
      inventory,
      payments,
      orders,
      gateways,
    ]);
    // A gateway takes payments' keys from the broker (retained): until then it answers 503 to
    // paying. Ready means every replica has them.
    await Promise.all(of('gateway').map((gateway) => keysKnown(gateway)));

    const pools = new Map<ShopDatabase, pg.Pool>();
    for (const name of ['users', 'products', 'inventory', 'orders', 'payments'] as const) {
      const pool = new pg.Pool({
        connectionString: databaseUrl(serverOf(name), dbName(name)),
        max: 3,
      });
      pool.on('error', () => {}); // a server stopping under an idle client: nothing to do
      pools.set(name, pool);
    }
    stops.push(() => Promise.all([...pools.values()].map((pool) => pool.end())));

    const regions = localRegions();
    if (options.demo !== false) {
      await loadDemoData({
        baseUrl: publicUrl,
        admin: { email: secrets.adminEmail, password: secrets.adminPassword },
        demoPassword: secrets.demoPassword,
        regions,
      });
    }

    const find = (name: TopologyProcess, index: number) => {
      const replica = of(name)[index];
      if (!replica) throw new Error(`no ${name} replica ${index}`);
      return replica;
    };
    return {
      url: publicUrl,
      wsUrl: `ws://${host}:${ports.http}/mqtt`,
      mqttUrl,
      accessLog: nginxConfig.accessLog,
      admin: { email: secrets.adminEmail, password: secrets.adminPassword },
      demoPassword: secrets.demoPassword,
      regions,
      db: Object.fromEntries(pools) as Record<ShopDatabase, pg.Pool>,
      replicas: of,
      kill: (name, index) => find(name, index).signal('SIGKILL'),
      async restart(name, index) {
        const replica = find(name, index);
        replica.start();
        await replica.ready();
        if (name === 'gateway') await keysKnown(replica);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }

  async function postgresServer(label: string, password: string): Promise<StartedPostgres> {
    const server = await startPostgres({
      dataDir: path.join(dir, `postgres-${label}`),
      port: await freePort(),
      password,
      persistent: false,
      // Its warnings and errors, as `npm start` shows them (database-server.ts).
      onLog: (text) => {
        for (const line of text.split('\n')) {
          if (/\b(WARNING|ERROR|FATAL|PANIC)\b/.test(line)) onLine(`postgres-${label}`, line);
        }
      },
    });
    stops.push(() => server.stop());
    return server;
  }
}

const frontendEntry = 'frontend/dist/server.js';

function isDatabase(name: TopologyProcess): name is ShopDatabase {
  return ['users', 'products', 'inventory', 'orders', 'payments'].includes(name);
}

/** The database name processes.ts gives a service (`mercado_orders`…). */
function dbName(name: ShopDatabase): string {
  return entry(name).database!;
}

/** Waits until a gateway replica answers payments' keys (it heard the retained announcement). */
async function keysKnown(gateway: Replica): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  while (gateway.alive && Date.now() < deadline) {
    const answer = await fetch(`${gateway.url}/api/payments/keys.json`).catch(() => undefined);
    await answer?.body?.cancel();
    if (answer?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${gateway.label} never had payments' keys`);
}

/** nginx from a private prefix, running until the returned stop. */
async function startNginx(
  dir: string,
  onLine: (name: string, line: string) => void,
  config: NginxConfigOptions,
): Promise<() => Promise<void>> {
  const prefix = path.join(dir, 'nginx');
  await mkdir(path.join(prefix, 'temp'), { recursive: true });
  const conf = path.join(prefix, 'nginx.conf');
  await writeFile(conf, renderNginxConfig(config));
  const child = spawn(
    'nginx',
    ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const lines: string[] = [];
  readline.createInterface({ input: child.stderr }).on('line', (line) => {
    lines.push(line);
    onLine('nginx', line);
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', () => {});
  // Listening once its port answers (a 502 from an upstream not up yet is an answer).
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not start: ${lines.join(' / ')}`);
    }
    const answer = await fetch(`http://${host}:${config.httpPort}/`).catch(() => undefined);
    if (answer) {
      await answer.body?.cancel();
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return async () => {
    // SIGTERM: nginx's fast shutdown (a graceful one would wait for open WebSockets).
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  };
}
