import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair } from 'jose';
import type mqtt from 'mqtt';
import { connectMqtt, type MqttClient } from '@mercado/common/mqtt';
import { createMetrics } from '@mercado/common/metrics';
import { matchTopic, type MqttServiceName } from '@mercado/common/contract';
import {
  captureLogs,
  testBrokerCredentials,
  testServiceMqttCredentials,
} from '@mercado/common/testing';
import {
  createMercadoBroker,
  loadBrokerConfig,
  startListeners,
  type Clock,
  type TerminalVerifier,
} from '../src/index.js';

/**
 * What the broker's test files share: a real broker on free ports (TCP, WebSocket, optionally
 * TLS), principals that connect to it as they would in production, message collectors, valid
 * payloads for every contract topic, and (from the kit) a tiny MQTT 3.1.1 encoder for bytes no
 * client library would send.
 */

// The raw MQTT 3.1.1 encoder and decoder (§2, §3), for bytes mqtt.js would refuse to send or would
// send differently, and for thousands of cheap connections: the kit's, re-exported here.
export { encode, RawMqtt, type RawPacket } from '@mercado/common/testing';

export const internalSecret = 'broker-test-internal-secret-long-enough-0123456789';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface StartOptions {
  /**
   * Whether the broker gets a terminal registry (default true): a stub backed by the `terminals`
   * map, standing in for the users service's registry, which is a separate service.
   */
  terminalRegistry?: boolean;
  /** The terminal registry itself, in place of the stub (e.g. one that cannot answer). */
  verifyTerminal?: TerminalVerifier;
  /** The broker's clock (token expiry, connection rate); the system's by default. */
  clock?: Clock;
  /**
   * The broker's own default for browsers' tokens: the key set at JWKS_URL, fetched and cached
   * (then `token` and its kin sign with keys it does not know). Default: a local key set.
   */
  remoteJwks?: boolean;
}

/** A clock that moves only when told: `advance` runs every timer that falls due, in order. */
export class ManualClock implements Clock {
  private time: number;
  private readonly timers = new Set<{ at: number; callback: () => void }>();

  constructor(start = Date.now()) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { at: this.time + ms, callback };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(timer: unknown): void {
    this.timers.delete(timer as { at: number; callback: () => void });
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = [...this.timers].filter((timer) => timer.at <= until);
      if (due.length === 0) break;
      const next = due.reduce((first, timer) => (timer.at < first.at ? timer : first));
      this.timers.delete(next);
      this.time = Math.max(this.time, next.at);
      next.callback();
    }
    this.time = until;
  }
}

export type TestBroker = Awaited<ReturnType<typeof startBroker>>;

/**
 * Starts a broker with its listeners on free ports and tears it down with the test. `env` is
 * merged over the defaults (e.g. TLS_CERT_FILE, MQTTS_PORT, CONNECTIONS_PER_IP_PER_MINUTE).
 */
export async function startBroker(
  t: Teardown,
  env: Record<string, string> = {},
  { terminalRegistry = true, verifyTerminal, clock, remoteJwks = false }: StartOptions = {},
) {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  // A key the broker has never seen, under the same kid: a token signed with it is forged.
  const { privateKey: foreignKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' };
  // A key of another algorithm in the same key set, with no `alg` of its own: jose would verify
  // an ES256 token with it unless the verifier pins the algorithm.
  const { privateKey: ecKey, publicKey: ecPublic } = await generateKeyPair('ES256');
  const ecJwk = { ...(await exportJWK(ecPublic)), kid: 'k-ec' };
  const config = loadBrokerConfig({
    INTERNAL_SECRET: internalSecret,
    ...testBrokerCredentials(),
    JWKS_URL: 'http://127.0.0.1:1/jwks.json',
    MQTT_PORT: '0',
    PORT: '0',
    ...env,
  });
  const logs = captureLogs('broker');
  const metrics = createMetrics('broker');
  const terminals = new Map<string, Buffer>();
  const stubRegistry: TerminalVerifier = async (terminalId, secret) => {
    const known = terminals.get(terminalId);
    return known !== undefined && known.length === secret.length && timingSafeEqual(known, secret);
  };
  const broker = await createMercadoBroker({
    config,
    log: logs.log,
    metrics,
    ...(remoteJwks ? {} : { keySet: createLocalJWKSet({ keys: [jwk, ecJwk] }) }),
    ...(terminalRegistry ? { verifyTerminal: verifyTerminal ?? stubRegistry } : {}),
    ...(clock ? { clock } : {}),
  });
  const listeners = await startListeners(broker, { config, log: logs.log, metrics });
  const clients: MqttClient[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true)));
    await broker.close();
    await listeners.close();
  });
  const sign = (
    key: Parameters<SignJWT['sign']>[0],
    userId: string,
    expiresIn: string | number,
    header = { alg: 'EdDSA', kid: 'k1' },
    roles: readonly string[] = ['customer'],
  ) =>
    new SignJWT({ roles: [...roles] })
      .setProtectedHeader(header)
      .setSubject(userId)
      .setIssuer('mercado')
      .setAudience('mercado-api')
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(key);
  /**
   * A valid access token; `expiresIn` as jose takes it: `'5m'`, or an absolute epoch second; the
   * roles it carries (a customer's by default).
   */
  const token = (
    userId: string,
    expiresIn: string | number = '5m',
    roles: readonly string[] = ['customer'],
  ) => sign(privateKey, userId, expiresIn, undefined, roles);
  const foreignToken = (userId: string, expiresIn = '5m') => sign(foreignKey, userId, expiresIn);
  /** Signed ES256 with a key the key set holds: valid in every way but its algorithm. */
  const otherAlgorithmToken = (userId: string) =>
    sign(ecKey, userId, '5m', { alg: 'ES256', kid: 'k-ec' });
  const port = Number(new URL(listeners.mqttUrl).port);

  const connect = async (url: string, options: mqtt.IClientOptions) => {
    const client = await connectMqtt(url, { reconnectPeriod: 0, ...options });
    clients.push(client);
    return client;
  };
  const serviceOptions = (name: MqttServiceName): mqtt.IClientOptions => ({
    clientId: `${name}-${Math.random().toString(36).slice(2)}`,
    ...testServiceMqttCredentials(name),
  });
  const service = (
    name: MqttServiceName,
    url = listeners.mqttUrl,
    options: mqtt.IClientOptions = {},
  ) => connect(url, { ...serviceOptions(name), ...options });
  const browserOptions = async (
    userId: string,
    roles?: readonly string[],
  ): Promise<mqtt.IClientOptions> => ({
    clientId: `web-${userId}-${Math.random().toString(36).slice(2)}`,
    username: 'browser',
    password: await token(userId, '5m', roles),
  });
  /** A browser of `userId`, its token carrying `roles` (a customer's by default). */
  const browser = async (userId: string, url = listeners.mqttUrl, roles?: readonly string[]) =>
    connect(url, await browserOptions(userId, roles));

  /** Registers a terminal in the stub registry; returns its secret. */
  const registerTerminal = (terminalId: string, secret = randomBytes(24).toString('base64url')) => {
    terminals.set(terminalId, Buffer.from(secret));
    return secret;
  };
  const terminalOptions = (terminalId: string): mqtt.IClientOptions => {
    const secret = terminals.get(terminalId);
    if (!secret) throw new Error(`terminal ${terminalId} is not registered`);
    return {
      clientId: `terminal-${terminalId}`,
      username: `terminal:${terminalId}`,
      password: Buffer.from(secret),
    };
  };
  const terminal = (terminalId: string, url = listeners.mqttUrl) =>
    connect(url, terminalOptions(terminalId));

  const metricsText = async () => (await fetch(`${listeners.httpUrl}/metrics`)).text();
  /** The sum of a metric's samples whose labels include `labels`; 0 when there is none. */
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    metricValue(await metricsText(), name, labels);
  const readiness = async () => (await fetch(`${listeners.httpUrl}/health/ready`)).status;

  return {
    broker,
    config,
    listeners,
    port,
    logs,
    terminals,
    token,
    foreignToken,
    otherAlgorithmToken,
    connect,
    service,
    serviceOptions,
    browser,
    browserOptions,
    registerTerminal,
    terminal,
    terminalOptions,
    metricsText,
    metric,
    readiness,
  };
}

/** Sums the samples of `name` in a Prometheus text exposition whose labels include `labels`. */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => present.get(key) === value)) {
      sum += Number(match[3]);
    }
  }
  return sum;
}

/** The CONNACK refusal a connect attempt ends with (mqtt.js puts the return code on the error). */
export async function refusedWith(
  url: string,
  options: mqtt.IClientOptions,
): Promise<number | string> {
  try {
    const client = await connectMqtt(url, { reconnectPeriod: 0, ...options });
    await client.endAsync(true);
    return 'connected';
  } catch (error) {
    return (error as { code?: number }).code ?? String(error);
  }
}

/** The topic of the next message `client` receives, or undefined after `timeoutMs`. */
export function nextMessage(client: MqttClient, timeoutMs = 3_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      resolve(undefined);
    }, timeoutMs);
    function onMessage(topic: string) {
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve(topic);
    }
    client.on('message', onMessage);
  });
}

/**
 * The granted QoS or failure (0x80) of each filter of one SUBSCRIBE, as the broker's SUBACK says.
 * mqtt.js rejects `subscribeAsync` when any code is 0x80; the SUBACK is on its error.
 */
export function subscribeCodes(
  client: MqttClient,
  filters: string[],
  qos: 0 | 1 = 1,
  timeoutMs = 3_000,
): Promise<number[] | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => settle('timeout'), timeoutMs);
    const onClose = () => settle('closed');
    function settle(result: number[] | 'closed' | 'timeout') {
      clearTimeout(timer);
      client.off('close', onClose);
      resolve(result);
    }
    client.once('close', onClose);
    client.subscribe(filters, { qos }, (error, _granted, packet) => {
      const granted = (packet as { granted?: number[] } | undefined)?.granted;
      if (granted) settle(granted);
      else if (error) settle(client.connected ? 'timeout' : 'closed');
    });
  });
}

/**
 * Publishes at QoS 1 and reports what the broker did: `acked` (its PUBACK) or `closed` (it ended
 * the connection: a refusal); `timeout` when neither happened.
 */
export async function publishOutcome(
  client: MqttClient,
  topic: string,
  payload: string | Buffer,
  { retain = false }: { retain?: boolean } = {},
  timeoutMs = 3_000,
): Promise<'acked' | 'closed' | 'timeout'> {
  if (!client.connected) return 'closed';
  return new Promise((resolve) => {
    let settled = false;
    const timer = setTimeout(() => settle('timeout'), timeoutMs);
    const onClose = () => settle('closed');
    function settle(result: 'acked' | 'closed' | 'timeout') {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.off('close', onClose);
      resolve(result);
    }
    client.once('close', onClose);
    client.publish(topic, payload, { qos: 1, retain }, (error) => {
      if (!error) settle('acked');
    });
  });
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** Everything a client receives, from now on, with waits on what arrives. */
export class Inbox {
  readonly messages: Received[] = [];
  private waiters: Array<() => void> = [];

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString('utf8'), retain: packet.retain });
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  find(predicate: (message: Received) => boolean): Received | undefined {
    return this.messages.find(predicate);
  }

  /** Whether a message whose payload contains `marker` arrived. */
  has(marker: string): boolean {
    return this.messages.some((message) => message.payload.includes(marker));
  }

  /** The first message (already here or still to come) matching `predicate`, or undefined. */
  async waitFor(
    predicate: (message: Received) => boolean,
    timeoutMs = 3_000,
  ): Promise<Received | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.find(predicate);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForMarker(marker: string, timeoutMs = 3_000): Promise<Received | undefined> {
    return this.waitFor((message) => message.payload.includes(marker), timeoutMs);
  }
}

/**
 * An end marker: a valid message on `topic`, published at QoS 1 by `publisher` after whatever a
 * test must not see delivered, which `inbox` (holding a subscription that matches `topic`) then
 * waits for. Once it is there, nothing acknowledged or refused before it is still on its way to
 * `inbox` (docs/platform-notes.md, "aedes delivers in order"): a test asserts that something did
 * not arrive after this, never after a sleep. Undefined if the marker itself never came.
 */
export async function endMarker(
  inbox: Inbox,
  publisher: MqttClient,
  topic: string,
  { retain = false }: { retain?: boolean } = {},
): Promise<Received | undefined> {
  const { payload, marker } = validMessage(topic);
  if ((await publishOutcome(publisher, topic, payload, { retain })) !== 'acked') return undefined;
  return inbox.waitForMarker(marker);
}

/**
 * The end marker of a client no message may reach (it may subscribe to nothing): an UNSUBSCRIBE
 * round trip on its own connection. aedes writes the UNSUBACK after whatever it queued for the
 * client before, and mqtt.js handles incoming packets in order, so once this resolves every
 * message already on its way has been emitted (docs/platform-notes.md, "aedes delivers in order").
 */
export async function caughtUp(client: MqttClient): Promise<void> {
  await client.unsubscribeAsync('mercado/end-marker');
}

export const orderStatus = (orderId: string) =>
  JSON.stringify({
    type: 'order.status_changed',
    id: '7a0c1f8e-2f7e-4a4e-9a53-0f3c7a7c9b10',
    orderId,
    status: 'paid',
    at: '2026-11-23T10:00:00.000Z',
  });

let stamp = 0;
/** A timestamp no other message of this process carries: the marker of payloads without ids. */
function uniqueTime(): string {
  stamp += 1;
  return new Date(Date.UTC(2026, 0, 1) + stamp * 1_000).toISOString();
}

/** A card as payments/requests and terminals carry it: a compact JWE for payments' key; its shape is all the broker checks. */
const encryptedCard =
  'eyJhbGciOiJFQ0RILUVTK0EyNTZLVyIsImVuYyI6IkEyNTZHQ00ifQ.d3JhcHBlZA.aXYtaXYtaXYt.Y2lwaGVy.dGFn';

/**
 * A payload the contract accepts on `topic` (a concrete contract topic), carrying a marker no
 * other message has, so a test can tell exactly which publish reached whom.
 */
export function validMessage(topic: string): { payload: string; marker: string } {
  const match = matchTopic(topic);
  if (!match) throw new Error(`not a contract topic: ${topic}`);
  const marker = randomUUID();
  const at = uniqueTime();
  const payloads = {
    paymentIntents: () => ({
      type: 'payment.intent_created',
      id: marker,
      orderId: randomUUID(),
      userId: randomUUID(),
      amountMinor: 1_999,
      currency: 'EUR',
      expiresAt: at,
    }),
    paymentRequests: () => ({
      type: 'payment.requested',
      requestId: marker,
      orderId: randomUUID(),
      userId: randomUUID(),
      card: encryptedCard,
    }),
    paymentResults: (params: Record<string, string>) => ({
      type: 'payment.approved',
      id: marker,
      requestId: 'idem-1',
      orderId: params.orderId,
      amountMinor: 1_999,
      currency: 'EUR',
      at,
    }),
    refundRequests: () => ({
      type: 'refund.requested',
      refundId: marker,
      orderId: randomUUID(),
      paymentId: randomUUID(),
      amountMinor: 1_999,
      reason: 'order_expired',
    }),
    paymentStatusRequests: () => ({
      type: 'payment.status_requested',
      id: marker,
      orderIds: [randomUUID()],
      expire: false,
      at,
    }),
    paymentStatus: (params: Record<string, string>) => ({
      type: 'payment.status',
      id: marker,
      requestId: randomUUID(),
      orderId: params.orderId,
      state: 'open',
      at,
    }),
    // No free field to carry a uuid: the timestamp is the marker.
    paymentKeys: () => ({
      type: 'payments.keys',
      keys: [{ kty: 'OKP', crv: 'X25519', x: 'x', kid: 'k1', alg: 'ECDH-ES+A256KW', use: 'enc' }],
      at,
    }),
    terminalRequests: () => ({
      type: 'terminal.payment_requested',
      requestId: marker,
      amountMinor: 1_999,
      currency: 'EUR',
      card: encryptedCard,
    }),
    terminalResults: () => ({
      type: 'terminal.result',
      id: marker,
      requestId: 'r-1',
      request: 'payment',
      result: 'success',
      at,
    }),
    terminalTransactions: () => ({
      type: 'terminal.transaction_recorded',
      id: marker,
      terminalId: 'till-1',
      kind: 'payment',
      outcome: 'approved',
      amountMinor: 1_999,
      currency: 'EUR',
      periodId: randomUUID(),
      at,
    }),
    // No free field to carry a uuid: the timestamp is the marker.
    terminalStatus: () => ({ type: 'terminal.status', status: 'online', at }),
    orderStatus: (params: Record<string, string>) => ({
      type: 'order.status_changed',
      id: marker,
      orderId: params.orderId,
      status: 'paid',
      at,
    }),
    lowStock: () => ({
      type: 'inventory.low_stock_reached',
      id: marker,
      productId: randomUUID(),
      sellerId: randomUUID(),
      region: 'eu-west',
      available: 1,
      threshold: 5,
      at,
    }),
    revocations: () => ({
      type: 'account.tokens_revoked',
      id: marker,
      userId: randomUUID(),
      reason: 'disabled',
      revokedBefore: at,
    }),
  } satisfies Record<string, (params: Record<string, string>) => object>;
  const payload = JSON.stringify(payloads[match.name](match.params));
  return {
    payload,
    marker: match.name === 'terminalStatus' || match.name === 'paymentKeys' ? at : marker,
  };
}

/** Waits until `predicate` holds, polling; false if it still does not after `timeoutMs`. */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 3_000,
  everyMs = 10,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Spawns a mosquitto client; killed (by its pid) in teardown if it is still running. */
export function run(t: Teardown, command: 'mosquitto_pub' | 'mosquitto_sub', args: string[]): Run {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    // 'close', not 'exit': by then its output has been read to the end.
    child.once('close', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  t.teardown(async () => {
    if (exitCode === undefined && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      await exited;
    }
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
  };
}

/** Resolves with the exit code, or 'running' if the process has not exited within `timeoutMs`. */
export async function exitWithin(
  process: Run,
  timeoutMs = 5_000,
): Promise<number | null | 'running'> {
  let timer: NodeJS.Timeout | undefined;
  const running = new Promise<'running'>((resolve) => {
    timer = setTimeout(() => resolve('running'), timeoutMs);
  });
  try {
    return await Promise.race([process.exited, running]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A P-256 key and a self-signed certificate for 127.0.0.1 (the SAN is what clients check), valid
 * a day, made with the openssl CLI (node:crypto cannot issue X.509 certificates); removed with
 * the test.
 */
export function selfSigned(t: Teardown, name: string): { cert: string; key: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mercado-broker-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}
