import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { build } from 'hdr-histogram-js';
import {
  connectMqtt,
  hashServiceMqttPassword,
  serviceMqttCredentials,
  servicePasswordHashesSetting,
  topicFilter,
  type MqttClient,
} from '@mercado/common/mqtt';
import { parsePayload, topics } from '@mercado/common/contract';
import type { IdleMessage, IdleRequest } from './broker-idle.js';
import { loopback } from './loopback.js';
import type { ReportSection } from './report.js';
import type { BrokerKind, ServerMessage, ServerRequest } from './broker-server.js';

/**
 * The broker benchmark: bare aedes against Mercado's broker (authentication, the topic contract's
 * ACL, payload validation), each in a child process of its own, driven by mqtt.js clients with
 * TCP_NODELAY in this process, over the same topics with the same payloads:
 *
 * - 1 → 1 throughput at QoS 0 and QoS 1: `gateway` publishes payment requests on
 *   `payments/requests`, `payments` subscribes; at most BROKER_WINDOW messages are between the
 *   publisher and the subscriber at any time, counted at the subscriber;
 * - request/response at QoS 1: `gateway` publishes a request, `payments` answers each one on
 *   `payments/results/{orderId}`, which `gateway` subscribes; with 1 and with 50 requests in
 *   flight, each round trip timed from the request's publish to its result's arrival;
 * - idle connections: BROKER_IDLE_CONNECTIONS authenticated service connections (keep-alive
 *   60 s) held open by another child, and the broker process's RSS before and after.
 *
 * Besides the rates, each run shows how busy the broker's process was (CPU time over wall time)
 * and its CPU time per message: when the load generator, not the broker, is what saturates, the
 * rates of both brokers converge, and CPU per message is the figure that still tells them apart.
 */

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const warmupSeconds = 1;
const window = Number(process.env.BROKER_WINDOW ?? 500);
const requestsInFlight = 50;
const idleConnections = Number(process.env.BROKER_IDLE_CONNECTIONS ?? 10_000);
const idleConcurrency = 200;
const idleKeepaliveSeconds = 60;
/** The goals of issue 5. */
const goals = { shareOfBare: 0.9, requestP50Ms: 1, idleRssBytes: 1e9 };

const requestTopic = topics.paymentRequests.build();
const resultsFilter = topicFilter('paymentResults');
const resultTopic = (orderId: string) => topics.paymentResults.build({ orderId });
/** The order a result's topic is for: its last level (`payments/results/{orderId}`). */
const orderOfResult = (topic: string) => topic.slice(topic.lastIndexOf('/') + 1);
const userId = '5b1d3c2e-8f4a-4c6b-9d7e-1a2b3c4d5e6f';

/** A payment request as the gateway sends it; the test card is never logged by anyone. */
function paymentRequest(orderId: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      type: 'payment.requested',
      requestId: `bench-${orderId}`,
      orderId,
      userId,
      // The shape of a card encrypted for payments (a compact JWE); the broker checks no more.
      card: 'eyJhbGciOiJFQ0RILUVTK0EyNTZLVyIsImVuYyI6IkEyNTZHQ00ifQ.d3JhcHBlZA.aXYtaXYtaXYt.Y2lwaGVy.dGFn',
    }),
  );
}

/** The payments service's answer: the order id in the topic and in the payload must agree. */
function paymentResult(request: { requestId: string; orderId: string }): Buffer {
  return Buffer.from(
    JSON.stringify({
      type: 'payment.approved',
      id: randomUUID(),
      requestId: request.requestId,
      orderId: request.orderId,
      amountMinor: 1999,
      currency: 'EUR',
      transactionId: 'bench-transaction',
      cardBrand: 'visa',
      cardLast4: '4242',
      at: new Date().toISOString(),
    }),
  );
}

/** Both payloads must pass the contract, or Mercado's broker would drop every message. */
function checkPayloads() {
  const orderId = randomUUID();
  const request = parsePayload(requestTopic, paymentRequest(orderId));
  if (!request.ok) throw new Error(`bench payment request refused: ${request.reason}`);
  const result = parsePayload(
    resultTopic(orderId),
    paymentResult({ requestId: `bench-${orderId}`, orderId }),
  );
  if (!result.ok) throw new Error(`bench payment result refused: ${result.reason}`);
}

// ---- child processes --------------------------------------------------------------------------

const children = new Set<ChildProcess>();

/**
 * Raises the soft limit on open files to the hard one, then becomes node: 10,000 connections need
 * 10,000 descriptors in the broker and as many in the process holding them.
 */
const raiseFileLimit = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"';

function fileLimits(): { soft: string; hard: string } {
  const read = (flag: string) =>
    execFileSync('sh', ['-c', `ulimit ${flag}`])
      .toString()
      .trim();
  return { soft: read('-Sn'), hard: read('-Hn') };
}

export function spawnNode(
  name: string,
  entry: string,
  args: string[],
  env: Record<string, string>,
): ChildProcess {
  // BENCH_PROFILE=broker-mercado,broker-bare writes V8 CPU profiles to ./bench-profiles.
  const profiled = (process.env.BENCH_PROFILE ?? '').split(',').includes(name);
  const child = spawn(
    'sh',
    [
      '-c',
      raiseFileLimit,
      process.execPath,
      ...(profiled ? ['--cpu-prof', '--cpu-prof-dir=bench-profiles'] : []),
      fileURLToPath(new URL(entry, import.meta.url)),
      ...args,
    ],
    {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** The child's next IPC message of this type; rejects if it exits first or takes too long. */
export function nextMessage<M extends { type: string }, T extends M['type']>(
  child: ChildProcess,
  type: T,
  timeoutMs: number,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const settle = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      settle();
      reject(new Error(`no ${type} message from the child in ${timeoutMs} ms`));
    }, timeoutMs);
    function onMessage(message: M) {
      if (message.type !== type) return;
      settle();
      resolve(message as Extract<M, { type: T }>);
    }
    function onExit(code: number | null, signal: string | null) {
      settle();
      reject(new Error(`child exited (${code ?? signal}) before sending ${type}`));
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const stopAll = () => Promise.all([...children].map(stopChild));

interface Usage {
  rss: number;
  cpuMicros: number;
  clients: number;
}

interface BrokerUnderTest {
  kind: BrokerKind;
  url: string;
  port: number;
  usage(): Promise<Usage>;
  stop(): Promise<void>;
}

/** The services the benchmark connects as, each with a password of its own for this run. */
const benchPasswords = {
  gateway: randomBytes(24).toString('base64url'),
  payments: randomBytes(24).toString('base64url'),
};

export async function startBroker(
  kind: BrokerKind,
  internalSecret: string,
): Promise<BrokerUnderTest> {
  const child = spawnNode(`broker-${kind}`, './broker-server.js', [kind], {
    LOG_LEVEL: 'warn',
    INTERNAL_SECRET: internalSecret,
    [servicePasswordHashesSetting('gateway')]: hashServiceMqttPassword(benchPasswords.gateway),
    [servicePasswordHashesSetting('payments')]: hashServiceMqttPassword(benchPasswords.payments),
    // Only browsers' tokens are checked against it, and no browser connects here.
    JWKS_URL: 'http://127.0.0.1:9/jwks.json',
    // Every connection of the benchmark comes from 127.0.0.1.
    CONNECTIONS_PER_IP_PER_MINUTE: '1000000',
  });
  const { port } = await nextMessage<ServerMessage, 'ready'>(child, 'ready', 30_000);
  return {
    kind,
    port,
    url: loopback(`mqtt://127.0.0.1:${port}`),
    async usage() {
      const reply = nextMessage<ServerMessage, 'usage'>(child, 'usage', 10_000);
      child.send({ type: 'usage' } satisfies ServerRequest);
      return reply;
    },
    stop: () => stopChild(child),
  };
}

// ---- load ---------------------------------------------------------------------------------------

let clientNumber = 0;

async function connectAs(
  broker: BrokerUnderTest,
  service: 'gateway' | 'payments',
  problems: string[],
): Promise<MqttClient> {
  const client = await connectMqtt(broker.url, {
    clientId: `${service}-bench-${process.pid}-${++clientNumber}`,
    ...serviceMqttCredentials(service, benchPasswords[service]),
    reconnectPeriod: 0,
    keepalive: 60,
    clean: true,
  });
  client.on('error', (error) => problems.push(`${service}: ${error.message}`));
  client.on('close', () => problems.push(`${service}: connection closed by the broker`));
  return client;
}

/** CPU time the whole machine has spent busy, every core, microseconds (10 ms ticks). */
export function machineBusyMicros(): number {
  let busyMs = 0;
  for (const cpu of os.cpus())
    busyMs += cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq;
  return busyMs * 1000;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Measured {
  rate: number;
  p50?: number;
  p99?: number;
  /** The broker process's CPU time over wall time, 1 = one core. */
  brokerCpu: number;
  /** This process's (the mqtt.js clients') CPU time over wall time. */
  loadCpu: number;
  /** The CPU time of every other process on the machine over wall time. */
  othersCpu: number;
  /** Broker CPU microseconds per message (1→1) or per round trip (two messages). */
  cpuPerMessage: number;
}

/**
 * Lets the load already going run for the warm-up, then measures BENCH_SECONDS of it: `progress`
 * (messages or round trips completed) and the broker's CPU time. Checked every 500 ms: a run that
 * reports a problem or stops progressing for 3 s (a dropped message, a closed connection) fails.
 */
async function measure(
  broker: BrokerUnderTest,
  progress: () => number,
  problems: string[],
  label: string,
  onMeasuring: () => void = () => undefined,
): Promise<{
  count: number;
  seconds: number;
  brokerCpu: number;
  loadCpu: number;
  othersCpu: number;
  cpuMicros: number;
}> {
  const watch = async (ms: number) => {
    let last = progress();
    let lastChange = performance.now();
    for (const end = performance.now() + ms; performance.now() < end;) {
      await sleep(Math.min(500, end - performance.now()));
      if (problems.length > 0) throw new Error(`${label} on ${broker.kind}: ${problems[0]}`);
      const now = progress();
      if (now !== last) {
        last = now;
        lastChange = performance.now();
      } else if (performance.now() - lastChange > 3_000) {
        throw new Error(`${label} on ${broker.kind}: no progress for 3 s`);
      }
    }
  };
  await watch(warmupSeconds * 1000);
  const before = await broker.usage();
  onMeasuring();
  const countBefore = progress();
  const loadBefore = process.cpuUsage();
  const machineBefore = machineBusyMicros();
  const start = performance.now();
  await watch(seconds * 1000);
  const after = await broker.usage();
  const count = progress() - countBefore;
  const elapsedMicros = (performance.now() - start) * 1000;
  const load = process.cpuUsage(loadBefore);
  const loadMicros = load.user + load.system;
  const cpuMicros = after.cpuMicros - before.cpuMicros;
  const othersMicros = machineBusyMicros() - machineBefore - cpuMicros - loadMicros;
  return {
    count,
    seconds: elapsedMicros / 1e6,
    brokerCpu: cpuMicros / elapsedMicros,
    loadCpu: loadMicros / elapsedMicros,
    othersCpu: Math.max(0, othersMicros / elapsedMicros),
    cpuMicros,
  };
}

/** Connects `gateway` and `payments` clients for one run, and ends them after it, however it ends. */
async function withClients<T>(
  broker: BrokerUnderTest,
  run: (clients: { gateway: MqttClient; payments: MqttClient }, problems: string[]) => Promise<T>,
): Promise<T> {
  const problems: string[] = [];
  const opened: MqttClient[] = [];
  const connect = async (service: 'gateway' | 'payments') => {
    const client = await connectAs(broker, service, problems);
    opened.push(client);
    return client;
  };
  try {
    return await run(
      { payments: await connect('payments'), gateway: await connect('gateway') },
      problems,
    );
  } finally {
    for (const client of opened) client.removeAllListeners('close');
    await Promise.all(opened.map((client) => client.endAsync(true)));
  }
}

/** 1 → 1: the publisher tops the window up whenever half of it has arrived. */
async function oneToOne(broker: BrokerUnderTest, qos: 0 | 1): Promise<Measured> {
  return withClients(broker, async (clients, problems) => {
    const { payments: subscriber, gateway: publisher } = clients;
    await subscriber.subscribeAsync(requestTopic, { qos });
    const payload = paymentRequest(randomUUID());
    let sent = 0;
    let received = 0;
    let running = true;
    const topUp = () => {
      while (running && sent - received < window) {
        publisher.publish(requestTopic, payload, { qos });
        sent++;
      }
    };
    subscriber.on('message', () => {
      received++;
      if (sent - received <= window / 2) topUp();
    });
    topUp();
    const run = await measure(broker, () => received, problems, `QoS ${qos} 1→1`).finally(
      () => (running = false),
    );
    return {
      rate: run.count / run.seconds,
      brokerCpu: run.brokerCpu,
      loadCpu: run.loadCpu,
      othersCpu: run.othersCpu,
      cpuPerMessage: run.cpuMicros / run.count,
    };
  });
}

/** Request/response at QoS 1 with `inFlight` requests outstanding at all times. */
export async function requestResponse(
  broker: BrokerUnderTest,
  inFlight: number,
): Promise<Measured> {
  return withClients(broker, async (clients, problems) => {
    const { payments: responder, gateway: requester } = clients;
    await responder.subscribeAsync(requestTopic, { qos: 1 });
    await requester.subscribeAsync(resultsFilter, { qos: 1 });
    responder.on('message', (_topic, payload) => {
      const request = JSON.parse(payload.toString('utf8')) as {
        requestId: string;
        orderId: string;
      };
      responder.publish(resultTopic(request.orderId), paymentResult(request), { qos: 1 });
    });
    const latencies = build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    const pending = new Map<string, number>();
    let completed = 0;
    let running = true;
    const sendOne = () => {
      const orderId = randomUUID();
      pending.set(orderId, performance.now());
      requester.publish(requestTopic, paymentRequest(orderId), { qos: 1 });
    };
    requester.on('message', (topic) => {
      const orderId = orderOfResult(topic);
      const sentAt = pending.get(orderId);
      if (sentAt === undefined) return;
      pending.delete(orderId);
      latencies.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
      completed++;
      if (running) sendOne();
    });
    for (let index = 0; index < inFlight; index++) sendOne();
    // The warm-up's round trips are timed too, then forgotten.
    const run = await measure(
      broker,
      () => completed,
      problems,
      `request/response ×${inFlight}`,
      () => latencies.reset(),
    ).finally(() => (running = false));
    const ms = (percentile: number) => latencies.getValueAtPercentile(percentile) / 1000;
    return {
      rate: run.count / run.seconds,
      p50: ms(50),
      p99: ms(99),
      brokerCpu: run.brokerCpu,
      loadCpu: run.loadCpu,
      othersCpu: run.othersCpu,
      cpuPerMessage: run.cpuMicros / run.count,
    };
  });
}

// ---- idle connections -------------------------------------------------------------------------

interface IdleFigures {
  kind: BrokerKind;
  requested: number;
  accepted: number;
  refused: number;
  failed: number;
  firstProblem?: string;
  /** Accepted connections still open when the RSS was read, as the holder and the broker see it. */
  stillOpen: number;
  brokerClients: number;
  rssBefore: number;
  rssAfter: number;
  openingMs: number;
}

async function idle(kind: BrokerKind, count: number, internalSecret: string): Promise<IdleFigures> {
  const broker = await startBroker(kind, internalSecret);
  try {
    await sleep(1_000);
    const before = await broker.usage();
    const { username, password } = serviceMqttCredentials('payments', benchPasswords.payments);
    const holder = spawnNode(
      'broker-idle',
      './broker-idle.js',
      [String(broker.port), String(count), String(idleConcurrency)],
      {
        BENCH_IDLE_USERNAME: username,
        BENCH_IDLE_PASSWORD: password,
        // Mercado's broker wants a service's client ids to start with its name.
        BENCH_IDLE_CLIENT_PREFIX: `payments-idle-${process.pid}-`,
        BENCH_IDLE_KEEPALIVE: String(idleKeepaliveSeconds),
      },
    );
    try {
      const opened = await nextMessage<IdleMessage, 'opened'>(
        holder,
        'opened',
        60_000 + count * 20,
      );
      // Whatever the connects left to collect or to flush, before reading what stays.
      await sleep(2_000);
      const after = await broker.usage();
      const check = nextMessage<IdleMessage, 'open'>(holder, 'open', 10_000);
      holder.send({ type: 'check' } satisfies IdleRequest);
      const { open } = await check;
      return {
        kind,
        requested: count,
        accepted: opened.accepted,
        refused: opened.refused,
        failed: opened.failed,
        ...(opened.firstProblem ? { firstProblem: opened.firstProblem } : {}),
        stillOpen: open,
        brokerClients: after.clients,
        rssBefore: before.rss,
        rssAfter: after.rss,
        openingMs: opened.ms,
      };
    } finally {
      await stopChild(holder);
    }
  } finally {
    await broker.stop();
  }
}

/** How many idle connections the file-descriptor limit allows, and why fewer, if it is fewer. */
function idleCount(): { count: number; note?: string } {
  const { soft, hard } = fileLimits();
  // Each process needs one descriptor a connection, plus its own few dozen.
  const needed = idleConnections + 200;
  if (hard === 'unlimited' || Number(hard) >= needed) return { count: idleConnections };
  const count = Math.max(0, Number(hard) - 200);
  return {
    count,
    note:
      `open files: soft limit ${soft}, hard limit ${hard}; ${idleConnections} connections need ` +
      `about ${needed} per process, so only ${count} were opened. Raise the hard limit (as root: ` +
      `ulimit -Hn 65536, or LimitNOFILE / docker --ulimit nofile=65536) to measure them all.`,
  };
}

// ---- report -----------------------------------------------------------------------------------

interface Row {
  scenario: string;
  unit: 'msg/s' | 'rt/s';
  bare: Measured;
  mercado: Measured;
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const percent = (share: number) => `${(share * 100).toFixed(0)}%`;

function printThroughput(rows: Row[]) {
  const cpus = os.cpus();
  out(
    `\nMQTT broker benchmark (vs bare = Mercado's share of bare aedes): ${seconds}s per run after ` +
      `${warmupSeconds}s warm-up, mqtt.js clients in one process, each broker in its own; ` +
      `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, node ${process.version}`,
  );
  out(
    'broker CPU, load CPU: CPU time of the broker process, of the clients process, over wall ' +
      'time (100% = one core); CPU µs/msg: broker CPU time per message (a round trip is two)',
  );
  const measured = rows.flatMap((row) => [row.bare, row.mercado]);
  const others = measured.reduce((sum, figures) => sum + figures.othersCpu, 0) / measured.length;
  const busiest = Math.max(...measured.map((figures) => figures.othersCpu));
  if (busiest > 0.2) {
    out(
      `note: other processes used ${percent(others)} of a core on average during the runs ` +
        `(${percent(busiest)} at most) on ${cpus.length} CPUs: the rates and latencies are ` +
        'noisy, CPU µs/msg much less so',
    );
  }
  out(
    `${'scenario'.padEnd(40)}${'broker'.padEnd(12)}${'rate'.padStart(14)}${'p50 ms'.padStart(9)}` +
      `${'p99 ms'.padStart(9)}${'broker CPU'.padStart(12)}${'CPU µs/msg'.padStart(12)}` +
      `${'load CPU'.padStart(10)}${'vs bare'.padStart(9)}`,
  );
  for (const row of rows) {
    for (const [name, figures] of [
      ['bare aedes', row.bare],
      ['mercado', row.mercado],
    ] as const) {
      // A round trip is two messages through the broker.
      const perMessage = figures.cpuPerMessage / (row.unit === 'rt/s' ? 2 : 1);
      out(
        `${(name === 'bare aedes' ? row.scenario : '').padEnd(40)}${name.padEnd(12)}` +
          `${`${figures.rate.toFixed(0)} ${row.unit}`.padStart(14)}` +
          `${(figures.p50 === undefined ? '' : figures.p50.toFixed(2)).padStart(9)}` +
          `${(figures.p99 === undefined ? '' : figures.p99.toFixed(2)).padStart(9)}` +
          `${percent(figures.brokerCpu).padStart(12)}${perMessage.toFixed(1).padStart(12)}` +
          `${percent(figures.loadCpu).padStart(10)}` +
          `${(name === 'mercado' ? percent(figures.rate / row.bare.rate) : '').padStart(9)}`,
      );
    }
  }
}

function printIdle(results: IdleFigures[], note?: string) {
  out(
    `\nIdle connections: authenticated service connections (keep-alive ${idleKeepaliveSeconds} s), ` +
      `${idleConcurrency} opening at a time, held by another process`,
  );
  out(
    `${'broker'.padEnd(12)}${'accepted'.padStart(14)}${'refused'.padStart(9)}${'failed'.padStart(8)}` +
      `${'still open'.padStart(12)}${'RSS before'.padStart(12)}${'RSS after'.padStart(12)}` +
      `${'per conn'.padStart(10)}${'opened in'.padStart(11)}`,
  );
  for (const result of results) {
    const perConnection =
      result.accepted > 0 ? (result.rssAfter - result.rssBefore) / result.accepted : 0;
    out(
      `${(result.kind === 'bare' ? 'bare aedes' : 'mercado').padEnd(12)}` +
        `${`${result.accepted}/${result.requested}`.padStart(14)}` +
        `${String(result.refused).padStart(9)}${String(result.failed).padStart(8)}` +
        `${String(Math.min(result.stillOpen, result.brokerClients)).padStart(12)}` +
        `${mb(result.rssBefore).padStart(12)}${mb(result.rssAfter).padStart(12)}` +
        `${`${(perConnection / 1024).toFixed(1)} KiB`.padStart(10)}` +
        `${`${(result.openingMs / 1000).toFixed(1)} s`.padStart(11)}`,
    );
    if (result.firstProblem) out(`  ${result.kind}: first problem: ${result.firstProblem}`);
  }
  if (note) out(`  ${note}`);
}

function printVerdicts(rows: Row[], idleMercado: IdleFigures, note?: string) {
  const verdict = (met: boolean) => (met ? 'met' : 'NOT met');
  const shares = rows.map((row) => ({
    scenario: row.scenario,
    share: row.mercado.rate / row.bare.rate,
    cpuShare: row.bare.cpuPerMessage / row.mercado.cpuPerMessage,
  }));
  const lowest = shares.reduce((low, share) => (share.share < low.share ? share : low));
  out('');
  out(
    `goal: Mercado's broker at >= ${percent(goals.shareOfBare)} of bare aedes: ` +
      `${verdict(lowest.share >= goals.shareOfBare)} ` +
      `(lowest: ${lowest.scenario}, ${percent(lowest.share)}; ` +
      `${shares.map((share) => percent(share.share)).join(' / ')}; by broker CPU per message ` +
      `${shares.map((share) => percent(share.cpuShare)).join(' / ')})`,
  );
  const single = rows.find((row) => row.scenario.includes(', 1 in flight'))!.mercado;
  out(
    `goal: QoS 1 request/response p50 < ${goals.requestP50Ms} ms: ` +
      `${verdict((single.p50 ?? Infinity) < goals.requestP50Ms)} ` +
      `(Mercado p50 ${single.p50?.toFixed(2)} ms, p99 ${single.p99?.toFixed(2)} ms)`,
  );
  const held = Math.min(idleMercado.stillOpen, idleMercado.brokerClients);
  const allHeld =
    idleMercado.requested === idleConnections &&
    idleMercado.accepted === idleConnections &&
    held === idleConnections;
  out(
    `goal: ${idleConnections} authenticated idle connections under ${mb(goals.idleRssBytes)} RSS: ` +
      `${verdict(allHeld && idleMercado.rssAfter < goals.idleRssBytes)} ` +
      `(${idleMercado.accepted}/${idleMercado.requested} accepted, ${held} held, ` +
      `broker RSS ${mb(idleMercado.rssAfter)}${note ? '; too few file descriptors, see above' : ''})`,
  );
}

// ---- the run ----------------------------------------------------------------------------------

/** Mercado's broker against bare aedes, scenario by scenario, for the report. */
function brokerSection(rows: Row[], idleResults: IdleFigures[]): ReportSection {
  return {
    group: 'MQTT broker',
    label:
      'Mercado’s broker (authentication, the topic contract’s ACL, payload validation) against ' +
      'bare aedes, each in a process of its own, the same mqtt.js clients, topics and payloads; ' +
      `${seconds} s per run after ${warmupSeconds} s, each scenario on both brokers in turn.`,
    figures: rows.map((row) => ({
      label: row.scenario,
      unit: row.unit,
      rps: row.mercado.rate,
      p50: row.mercado.p50,
      p99: row.mercado.p99,
      errors: 0,
      ceiling: {
        name: `bare aedes, ${row.scenario}`,
        unit: row.unit,
        rps: row.bare.rate,
        p50: row.bare.p50,
        p99: row.bare.p99,
        errors: 0,
      },
    })),
    notes: idleResults.map(
      (result) =>
        `idle connections, ${result.kind === 'bare' ? 'bare aedes' : 'Mercado’s broker'}: ` +
        `${result.accepted}/${result.requested} accepted, broker RSS ${mb(result.rssBefore)} → ` +
        `${mb(result.rssAfter)}`,
    ),
  };
}

/** `npm run bench:broker`, and part of `npm run bench`. */
export async function benchBroker(): Promise<ReportSection[]> {
  checkPayloads();
  const internalSecret = randomBytes(32).toString('base64url');
  const onInterrupt = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', onInterrupt);
  try {
    const brokers = {
      bare: await startBroker('bare', internalSecret),
      mercado: await startBroker('mercado', internalSecret),
    };
    const scenarios: Array<{
      scenario: string;
      unit: Row['unit'];
      run: (broker: BrokerUnderTest) => Promise<Measured>;
    }> = [
      {
        scenario: `QoS 0, 1→1, ${window} in flight`,
        unit: 'msg/s',
        run: (broker) => oneToOne(broker, 0),
      },
      {
        scenario: `QoS 1, 1→1, ${window} in flight`,
        unit: 'msg/s',
        run: (broker) => oneToOne(broker, 1),
      },
      {
        scenario: 'QoS 1 request/response, 1 in flight',
        unit: 'rt/s',
        run: (broker) => requestResponse(broker, 1),
      },
      {
        scenario: `QoS 1 request/response, ${requestsInFlight} in flight`,
        unit: 'rt/s',
        run: (broker) => requestResponse(broker, requestsInFlight),
      },
    ];
    const rows: Row[] = [];
    // Each scenario on both brokers, one after the other, so that both see the same machine.
    for (const { scenario, unit, run } of scenarios) {
      const bare = await run(brokers.bare);
      const mercado = await run(brokers.mercado);
      rows.push({ scenario, unit, bare, mercado });
    }
    await Promise.all([brokers.bare.stop(), brokers.mercado.stop()]);
    printThroughput(rows);

    const { count, note } = idleCount();
    const idleResults = [
      await idle('bare', count, internalSecret),
      await idle('mercado', count, internalSecret),
    ];
    printIdle(idleResults, note);
    printVerdicts(rows, idleResults[1]!, note);
    return [brokerSection(rows, idleResults)];
  } finally {
    process.off('SIGINT', onInterrupt);
    await stopAll();
  }
}
