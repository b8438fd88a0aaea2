import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { freePort } from '@mercado/common/testing';
import { databaseUrl, ensureDatabases, startPostgres } from '../postgres.js';
import { loadDemoData } from '../demo/load.js';
import type { MqttServiceName } from '@mercado/common/contract';
import {
  hashServiceMqttPassword,
  serviceMqttCredentials,
  servicePasswordHashesSetting,
} from '@mercado/common/mqtt';
import { generateCardKey } from '@mercado/payments/keys';
import { generateSigningKey } from '../signing-keys.js';
import { loopback } from './loopback.js';

/**
 * What every benchmark shares: a throwaway Postgres, the services as real child processes (built
 * `dist/`, logs at warn), the gateway with rate limits off (one address sends everything), and
 * autocannon in this process. Figures, never a pass/fail on speed.
 */

const execFileAsync = promisify(execFile);

export const durationSeconds = Number(process.env.BENCH_SECONDS ?? 10);
export const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
/** The warm-up before each HTTP measurement (npm run bench takes 1 s, to stay near ten minutes). */
export const warmupSeconds = Number(process.env.BENCH_WARMUP ?? 2);

export interface Figures {
  label: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** The slowest, where the run measured it (a column of its own in printTable). */
  max?: number;
  /** From the open-loop generator: the answers by status (0: none). */
  statuses?: Record<string, number>;
}

type Headers = () => Record<string, string>;

/** Throughput: as many requests as `connections` keep in flight, after the warm-up (2 s). */
export async function measureMax(label: string, url: string, headers: Headers = () => ({})) {
  await autocannon({
    url: loopback(url),
    connections,
    duration: warmupSeconds,
    headers: headers(),
  });
  const result = await autocannon({
    url,
    connections,
    duration: durationSeconds,
    headers: headers(),
  });
  return figures(label, result);
}

/**
 * Latency at a fixed offered load, from an open-loop generator in its own process (see
 * open-loop.ts: each request timed from when it was due, so stalls are not hidden), after the
 * warm-up (2 s) at the same rate.
 */
export async function measureAtRate(
  label: string,
  url: string,
  rate: number,
  headers: Headers = () => ({}),
): Promise<Figures> {
  await openLoop(url, rate, warmupSeconds, headers());
  const result = await openLoop(url, rate, durationSeconds, headers());
  return { label, rps: result.rps, p50: result.p50, p99: result.p99, errors: result.errors };
}

async function openLoop(
  url: string,
  rate: number,
  seconds: number,
  headers: Record<string, string> | { file: string },
): Promise<{
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  statuses: Record<string, number>;
}> {
  const generator = fileURLToPath(new URL('./open-loop.js', import.meta.url));
  const { stdout } = await execFileAsync(process.execPath, [
    generator,
    loopback(url),
    String(rate),
    String(seconds),
    ...('file' in headers
      ? [`@${headers.file as string}`]
      : Object.entries(headers).map(([name, value]) => `${name}:${value}`)),
  ]);
  return JSON.parse(stdout) as Awaited<ReturnType<typeof openLoop>>;
}

/** A request the open-loop generator sends once (see open-loop.ts). */
export interface PlannedRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  expect?: number;
}

/**
 * Latency at a fixed rate over requests that may each be sent once (a payment per order): the
 * first `rate × 2` of `plan` warm up, the next `rate × durationSeconds` are measured.
 */
export async function measurePlannedAtRate(
  label: string,
  baseUrl: string,
  rate: number,
  plan: (count: number) => Promise<PlannedRequest[]>,
): Promise<Figures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-bench-plan-'));
  try {
    const runs: Array<[seconds: number, file: string]> = [];
    for (const [name, seconds] of [
      ['warm-up', 2],
      ['measured', durationSeconds],
    ] as const) {
      const file = path.join(dir, `${name}.json`);
      await writeFile(file, JSON.stringify(await plan(Math.ceil(rate * seconds))));
      runs.push([seconds, file]);
    }
    let result: Awaited<ReturnType<typeof openLoop>> | undefined;
    for (const [seconds, file] of runs) result = await openLoop(baseUrl, rate, seconds, { file });
    const { rps, p50, p99, errors, statuses } = result!;
    return { label, rps, p50, p99, errors, statuses };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Throughput over many different URLs, each connection taking the next one in turn: with more
 * URLs than any cache holds, every request is computed.
 */
export async function measureMaxOver(
  label: string,
  baseUrl: string,
  paths: string[],
  headers: Headers = () => ({}),
) {
  let next = 0;
  const requests = [
    {
      setupRequest(request: { path: string }) {
        request.path = paths[next++ % paths.length]!;
        return request;
      },
    },
  ] as unknown as autocannon.Request[];
  await autocannon({
    url: loopback(baseUrl),
    connections,
    duration: warmupSeconds,
    requests,
    headers: headers(),
  });
  const result = await autocannon({
    url: baseUrl,
    connections,
    duration: durationSeconds,
    requests,
    headers: headers(),
  });
  return figures(label, result);
}

function figures(label: string, result: autocannon.Result): Figures {
  return {
    label,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

/**
 * Throughput of `target` as a share of the ceiling, measured in turns (ceiling, target, ceiling,
 * target, …, `rounds` of each): on two shared cores a single run of each swung by ±40% from one
 * minute to the next, so a share taken from two runs minutes apart said more about the machine
 * than about the route. The row is the target's median run and `of` the ceiling's median; `turns` lists every run.
 */
export async function measureMaxInTurns(
  ceiling: () => Promise<Figures>,
  target: () => Promise<Figures>,
  rounds = Number(process.env.BENCH_ROUNDS ?? 3),
): Promise<{ row: Figures & { of: number }; ceiling: Figures; turns: string }> {
  const ceilings: Figures[] = [];
  const targets: Figures[] = [];
  for (let round = 0; round < rounds; round++) {
    ceilings.push(await ceiling());
    targets.push(await target());
  }
  const median = (runs: Figures[]) =>
    [...runs].sort((a, b) => a.rps - b.rps)[(runs.length - 1) >> 1]!;
  const rates = (runs: Figures[]) => runs.map((run) => run.rps.toFixed(0)).join(' / ');
  return {
    row: { ...median(targets), of: median(ceilings).rps },
    ceiling: median(ceilings),
    turns: `ceiling ${rates(ceilings)}, route ${rates(targets)}`,
  };
}

/** A row of a printed table: the figures of one run, its group, and the reference it is a share of. */
export type TableRow = Figures & { group: string; of?: number };

export function printTable(
  title: string,
  rows: TableRow[],
  setup = `${connections} connections, ${durationSeconds}s per run`,
) {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const cpus = os.cpus();
  const withMax = rows.some((row) => row.max !== undefined);
  out(`\n${title}: ${setup}, ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, node ${process.version}`);
  out(
    `${'route'.padEnd(34)}${'run'.padEnd(26)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}` +
      `${'p99 ms'.padStart(9)}${withMax ? 'max ms'.padStart(9) : ''}${'errors'.padStart(8)}` +
      `${'vs ref'.padStart(9)}`,
  );
  // NaN (null once it came over IPC as JSON): nothing answered, so no percentile.
  const ms = (value: number | null | undefined) =>
    (value === undefined
      ? ''
      : value === null || Number.isNaN(value)
        ? '–'
        : value.toFixed(1)
    ).padStart(9);
  for (const row of rows) {
    const share = row.of ? `${((row.rps / row.of) * 100).toFixed(0)}%` : '';
    out(
      `${row.group.padEnd(34)}${row.label.padEnd(26)}${row.rps.toFixed(0).padStart(9)}` +
        `${ms(row.p50)}${ms(row.p99)}${withMax ? ms(row.max) : ''}` +
        `${String(row.errors).padStart(8)}${share.padStart(9)}`,
    );
  }
}

export interface BenchSystem {
  internalSecret: string;
  /** The URL of a service's database on the benchmark's Postgres (`mercado_orders`…). */
  databaseUrl(database: string): string;
  usersUrl: string;
  productsUrl?: string;
  inventoryUrl?: string;
  gatewayUrl: string;
  /** A bare node:http proxy in front of the users service: the ceiling of any Node proxy here. */
  bareUrl: string;
  /** With `payments`: the broker, and how to log in to it as orders (to announce intents). */
  mqttUrl?: string;
  ordersMqtt?: { username: string; password: string };
  /** With `orders`: the orders service, directly. */
  ordersUrl?: string;
  /** CPU seconds each process of the system used so far (see processCpuSeconds). */
  cpuSeconds(): Record<string, number>;
  stop(): Promise<void>;
}

export async function startBenchSystem({
  catalog,
  payments = false,
  orders = false,
  statements = orders,
}: {
  catalog: boolean;
  /** The broker and the payments service too, and the gateway on the broker. */
  payments?: boolean;
  /**
   * The whole checkout: orders too (with the catalog, the broker and payments, whatever the
   * other flags say), wired as `npm start` wires it (scripts/src/processes.ts).
   */
  orders?: boolean;
  /** pg_stat_statements loaded, for countStatements (the checkout's system has it). */
  statements?: boolean;
}): Promise<BenchSystem> {
  if (orders) {
    catalog = true;
    payments = true;
  }
  const internalSecret = randomBytes(48).toString('base64url');
  const postgres = await startPostgres({
    dataDir: path.join(os.tmpdir(), `mercado-bench-pg-${process.pid}`),
    port: await freePort(),
    password: randomBytes(18).toString('base64url'),
    persistent: false,
    // The checkout and the terminals count their statements (countStatements); the other
    // benchmarks leave Postgres as it is.
    settings: statements ? ['shared_preload_libraries=pg_stat_statements'] : [],
  });
  loopback(postgres.url);
  const children: Array<{ name: string; child: ChildProcess }> = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const { child } of children) child.kill('SIGTERM');
    await Promise.all(
      children.map(({ child }) =>
        child.exitCode !== null || child.signalCode !== null
          ? undefined
          : new Promise((resolve) => child.once('exit', resolve)),
      ),
    );
    await postgres.stop();
  };
  process.once('SIGINT', () => void stop().finally(() => process.exit(130)));

  async function start(name: string, entry: string, env: Record<string, string>) {
    const port = await freePort();
    // BENCH_PROFILE=products,gateway writes V8 CPU profiles of those processes to ./bench-profiles.
    const profiled = (process.env.BENCH_PROFILE ?? '').split(',').includes(name);
    const args = profiled ? ['--cpu-prof', '--cpu-prof-dir=bench-profiles', entry] : [entry];
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', PORT: String(port), ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`${name} exited early (${code ?? signal})\n`);
    });
    children.push({ name, child });
    const url = loopback(`http://127.0.0.1:${port}`);
    await waitReady(url, () => child.exitCode !== null || child.signalCode !== null);
    return url;
  }

  try {
    const databases = [
      'mercado_users',
      ...(catalog ? ['mercado_products', 'mercado_inventory'] : []),
      ...(payments ? ['mercado_payments'] : []),
      ...(orders ? ['mercado_orders'] : []),
    ];
    await ensureDatabases(postgres.url, databases);
    const usersUrl = await start('users', 'services/users/dist/main.js', {
      DATABASE_URL: databaseUrl(postgres.url, 'mercado_users'),
      INTERNAL_SECRET: internalSecret,
      JWT_SIGNING_KEYS: JSON.stringify([await generateSigningKey()]),
      ADMIN_EMAIL: 'root@bench.example',
      ADMIN_PASSWORD: benchAdminPassword,
    });
    const mqtt = payments ? await startBroker(usersUrl) : undefined;
    let productsUrl: string | undefined;
    let inventoryUrl: string | undefined;
    if (catalog) {
      productsUrl = await start('products', 'services/products/dist/main.js', {
        DATABASE_URL: databaseUrl(postgres.url, 'mercado_products'),
        INTERNAL_SECRET: internalSecret,
      });
      inventoryUrl = await start('inventory', 'services/inventory/dist/main.js', {
        DATABASE_URL: databaseUrl(postgres.url, 'mercado_inventory'),
        INTERNAL_SECRET: internalSecret,
        PRODUCTS_URLS: productsUrl,
        // Its outbox (low stock) relayed as in `npm start`, when there is a broker.
        ...(mqtt ? { MQTT_URL: mqtt.url, MQTT_PASSWORD: mqtt.passwords.inventory } : {}),
      });
    }
    const ordersUrl =
      orders && mqtt
        ? await start('orders', 'services/orders/dist/main.js', {
            DATABASE_URL: databaseUrl(postgres.url, 'mercado_orders'),
            INTERNAL_SECRET: internalSecret,
            PRODUCTS_URLS: productsUrl!,
            INVENTORY_URLS: inventoryUrl!,
            MQTT_URL: mqtt.url,
            MQTT_PASSWORD: mqtt.passwords.orders,
          })
        : undefined;
    if (mqtt) {
      await start('payments', 'services/payments/dist/main.js', {
        DATABASE_URL: databaseUrl(postgres.url, 'mercado_payments'),
        PAYMENTS_CARD_KEYS: JSON.stringify([await generateCardKey()]),
        CARD_FINGERPRINT_KEY: randomBytes(32).toString('base64url'),
        MQTT_URL: mqtt.url,
        MQTT_PASSWORD: mqtt.passwords.payments,
      });
    }
    const gatewayUrl = await start('gateway', 'gateway/dist/main.js', {
      ...(mqtt ? { MQTT_URL: mqtt.url, MQTT_PASSWORD: mqtt.passwords.gateway } : {}),
      INTERNAL_SECRET: internalSecret,
      USERS_URLS: usersUrl,
      ...(productsUrl ? { PRODUCTS_URLS: productsUrl } : {}),
      ...(inventoryUrl ? { INVENTORY_URLS: inventoryUrl } : {}),
      ...(ordersUrl ? { ORDERS_URLS: ordersUrl } : {}),
      RATE_LIMIT_PER_IP: '0',
      RATE_LIMIT_PER_USER: '0',
      // The storefront, as npm start serves it (bench:storefront loads its pages); entries run
      // from the repository's root.
      SITE_DIR: 'frontend/dist/site',
    });
    const bareUrl = await start('bare proxy', 'scripts/dist/bare-proxy.js', {
      TARGET_URL: usersUrl,
    });
    return {
      internalSecret,
      databaseUrl: (database) => databaseUrl(postgres.url, database),
      usersUrl,
      ...(productsUrl ? { productsUrl } : {}),
      ...(inventoryUrl ? { inventoryUrl } : {}),
      ...(ordersUrl ? { ordersUrl } : {}),
      gatewayUrl,
      bareUrl,
      ...(mqtt
        ? {
            mqttUrl: mqtt.url,
            ordersMqtt: serviceMqttCredentials('orders', mqtt.passwords.orders),
          }
        : {}),
      cpuSeconds: () =>
        processCpuSeconds([
          ...children.map(({ name, child }) => ({ name, pid: child.pid })),
          { name: 'postgres', pid: postgres.pid, withChildren: true },
        ]),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }

  /** The broker, admitting each service the system runs by its own password. */
  async function startBroker(usersUrl: string) {
    const passwords = Object.fromEntries(
      benchMqttServices.map((service) => [service, randomBytes(24).toString('base64url')]),
    ) as Record<(typeof benchMqttServices)[number], string>;
    const mqttPort = await freePort();
    await start('broker', 'broker/dist/main.js', {
      MQTT_PORT: String(mqttPort),
      INTERNAL_SECRET: internalSecret,
      JWKS_URL: `${usersUrl}/api/auth/jwks.json`,
      USERS_URL: usersUrl,
      // Every connection of the benchmark comes from 127.0.0.1.
      CONNECTIONS_PER_IP_PER_MINUTE: '1000000',
      ...Object.fromEntries(
        Object.entries(passwords).map(([service, password]) => [
          servicePasswordHashesSetting(service as MqttServiceName),
          hashServiceMqttPassword(password),
        ]),
      ),
    });
    return { url: loopback(`mqtt://127.0.0.1:${mqttPort}`), passwords };
  }
}

/** The services that log in to the benchmark's broker. */
const benchMqttServices = ['gateway', 'payments', 'orders', 'inventory'] as const;

/**
 * CPU seconds (user + system) each process has used so far, from /proc (Linux; elsewhere, none):
 * the difference over a run says which process the run's work went to. Postgres counts with
 * its backends (the postmaster's children).
 */
function processCpuSeconds(
  processes: Array<{ name: string; pid: number | undefined; withChildren?: boolean }>,
): Record<string, number> {
  const ticksPerSecond = 100; // USER_HZ, 100 on every Linux this runs on
  const stats = new Map<number, { ppid: number; ticks: number }>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return {};
  }
  for (const entry of entries) {
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // After the command's closing parenthesis: state ppid … utime (14th) stime (15th).
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), {
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
      });
    } catch {
      // gone meanwhile
    }
  }
  const seconds: Record<string, number> = {};
  for (const { name, pid, withChildren } of processes) {
    if (pid === undefined) continue;
    let ticks = stats.get(pid)?.ticks ?? 0;
    if (withChildren) {
      for (const stat of stats.values()) if (stat.ppid === pid) ticks += stat.ticks;
    }
    seconds[name] = (seconds[name] ?? 0) + ticks / ticksPerSecond;
  }
  return seconds;
}

export const benchAdminPassword = 'a long benchmark admin passphrase';

/** The benchmark's admin, signed in through the gateway: an access token. */
export async function loginAdmin(gatewayUrl: string): Promise<string> {
  const answer = await postJson(gatewayUrl, '/api/auth/login', undefined, {
    email: 'root@bench.example',
    password: benchAdminPassword,
  });
  const token = (answer.body as { accessToken?: string }).accessToken;
  if (!token) throw new Error(`bench: admin login answered ${answer.status}`);
  return token;
}

/** A JSON POST through the gateway, signed in with `token` if given: the status and body. */
export async function postJson(
  gatewayUrl: string,
  path: string,
  token: string | undefined,
  body: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${gatewayUrl}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => ({})) };
}

/** Loads the demo shop through the gateway (idempotent: a second run adds nothing). */
export async function loadBenchDemo(system: BenchSystem): Promise<void> {
  await loadDemoData({
    baseUrl: system.gatewayUrl,
    admin: { email: 'root@bench.example', password: benchAdminPassword },
    demoPassword: 'a demo measuring passphrase',
    regions: ['north', 'south'],
  });
}

/** The reference every read is compared with: the gateway → trivial upstream, proxied for real. */
export async function measureCeiling(system: BenchSystem) {
  // no-cache keeps the gateway's micro-cache out of it.
  return measureMax(
    'gateway → trivial upstream',
    `${system.gatewayUrl}/api/auth/jwks.json`,
    () => ({
      'cache-control': 'no-cache',
    }),
  );
}

/** The same ceiling's latency at a steady `rate`: the floor every latency figure stands on. */
export async function measureCeilingAtRate(system: BenchSystem, label: string, rate: number) {
  return measureAtRate(label, `${system.gatewayUrl}/api/auth/jwks.json`, rate, () => ({
    'cache-control': 'no-cache',
  }));
}

/** Every product of the catalog, page by page, as a shopper lists them. */
export async function listAllProducts(
  gatewayUrl: string,
): Promise<Array<{ id: string; name: string }>> {
  const items: Array<{ id: string; name: string }> = [];
  let cursor: string | null = null;
  do {
    const page = (await (
      await fetch(
        `${gatewayUrl}/api/products?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )
    ).json()) as { items: Array<{ id: string; name: string }>; nextCursor: string | null };
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  if (items.length === 0) throw new Error('the demo catalog is empty');
  return items;
}

async function waitReady(url: string, exited: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 300 && !exited(); attempt++) {
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never became ready`);
}

/**
 * CPU milliseconds per unit of work (a paid checkout, a payment) by process, from two
 * cpuSeconds() readings around a run, and the rate the machine's cores would allow at that cost
 * if nothing else ran: the budget a goal has to fit in.
 */
export function cpuLine(unit: string, cpu: Record<string, number>, units: number): string {
  if (units === 0 || Object.keys(cpu).length === 0) return `cpu per ${unit}: not measured`;
  const perUnit = Object.entries(cpu)
    .map(([name, seconds]) => [name, (seconds * 1000) / units] as const)
    .filter(([, ms]) => ms >= 0.05)
    .sort((a, b) => b[1] - a[1]);
  const sum = perUnit.reduce((total, [, ms]) => total + ms, 0);
  const cores = os.cpus().length;
  return (
    `cpu per ${unit}: ${sum.toFixed(2)} ms (` +
    perUnit.map(([name, ms]) => `${name} ${ms.toFixed(2)}`).join(', ') +
    `): at most ~${Math.floor((cores * 1000) / sum)}/s on ${cores} cores with nothing else ` +
    `running (the load generator not counted)`
  );
}

/** The CPU seconds each process used between two cpuSeconds() readings. */
export function cpuSpent(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([name, seconds]) => [name, seconds - (before[name] ?? 0)]),
  );
}

/** One query on the benchmark's Postgres, on a connection of its own that ends with it. */
async function queryOnce<Row extends pg.QueryResultRow>(
  system: BenchSystem,
  sql: string,
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: system.databaseUrl('postgres') });
  await client.connect();
  try {
    return (await client.query<Row>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Starts counting statements afresh (see countStatements). */
export async function resetStatements(system: BenchSystem): Promise<void> {
  await queryOnce(system, 'create extension if not exists pg_stat_statements');
  await queryOnce(system, 'select pg_stat_statements_reset()');
}

/**
 * The statements the services sent their databases since resetStatements (pg_stat_statements,
 * top-level only: what a trigger runs is not a round trip), per unit of work (a paid checkout):
 * the round trips each service makes, the first thing to read when its CPU per unit is high.
 * With BENCH_PG_STATEMENTS=1 the text lists the 40 most frequent statements too.
 */
export async function countStatements(
  system: BenchSystem,
  units: number,
  unit: string,
): Promise<{ perUnit: number; text: string }> {
  const rows = await queryOnce<{ db: string; calls: string; ms: number; q: string }>(
    system,
    `select d.datname as db, s.calls, s.total_exec_time as ms,
            regexp_replace(left(s.query, 90), '\\s+', ' ', 'g') as q
       from pg_stat_statements s join pg_database d on d.oid = s.dbid
      where d.datname like 'mercado_%'
      order by s.calls desc`,
  );
  const per = (calls: number) => calls / Math.max(1, units);
  const perDb = new Map<string, number>();
  for (const row of rows) perDb.set(row.db, (perDb.get(row.db) ?? 0) + Number(row.calls));
  const perUnit = per([...perDb.values()].reduce((sum, calls) => sum + calls, 0));
  const name = (db: string) => db.replace('mercado_', '');
  const lines = [
    `statements sent per ${unit}: ${perUnit.toFixed(1)} (` +
      [...perDb].map(([db, calls]) => `${name(db)} ${per(calls).toFixed(1)}`).join(', ') +
      ')',
    ...rows
      .slice(0, process.env.BENCH_PG_STATEMENTS ? 40 : 0)
      .map(
        (row) =>
          `${per(Number(row.calls)).toFixed(2).padStart(7)} ` +
          `${(row.ms / Number(row.calls)).toFixed(3).padStart(7)} ms  ${name(row.db).padEnd(9)} ${row.q}`,
      ),
  ];
  return { perUnit, text: lines.join('\n') };
}

/**
 * The floor of one SQL statement here: a parameterised single-row select on a pooled
 * connection, 20 in flight for 3 s after a warm-up, with the CPU this process (a Node client, as
 * every service is) and Postgres spent per statement.
 */
export async function bareStatement(
  system: BenchSystem,
): Promise<{ perSecond: number; cpuMs: number; cpu: string }> {
  const pool = new pg.Pool({ connectionString: system.databaseUrl('mercado_orders'), max: 20 });
  try {
    const run = async (ms: number) => {
      const until = Date.now() + ms;
      let count = 0;
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (Date.now() < until) {
            await pool.query('select $1::int as n', [count++]);
          }
        }),
      );
      return count;
    };
    await run(1000);
    const before = system.cpuSeconds();
    const ownBefore = process.cpuUsage();
    const count = await run(3000);
    const own = process.cpuUsage(ownBefore);
    const postgres = cpuSpent(before, system.cpuSeconds()).postgres ?? 0;
    const clientMs = (own.user + own.system) / 1000 / count;
    const serverMs = (postgres * 1000) / count;
    return {
      perSecond: count / 3,
      cpuMs: clientMs + serverMs,
      cpu: `client ${clientMs.toFixed(3)}, postgres ${serverMs.toFixed(3)}`,
    };
  } finally {
    await pool.end();
  }
}
