import { createHash } from 'node:crypto';
import type { Test } from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { createMetrics } from '@mercado/common/metrics';
import { listen } from '@mercado/common/http';
import { captureLogs, eventually } from '@mercado/common/testing';
import { buildGateway, loadGatewayConfig, type GatewayConfig } from '../src/app.js';

export const internalSecret = 'gateway-test-internal-secret-0123456789abcdef';
export const issuer = 'mercado';
export const audience = 'mercado-api';

interface TestContext {
  teardown(fn: () => unknown): void;
}

/** What the echo upstream saw of one request. */
export interface Seen {
  upstream: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  sha256: string;
  remotePort: number;
}

export interface Echo {
  url: string;
  seen: Seen[];
}

/**
 * A service stand-in that answers every request with what it received (method, path, headers, body
 * size and hash), and 200 to its health checks.
 */
export async function startEcho(t: TestContext, name = 'echo'): Promise<Echo> {
  const seen: Seen[] = [];
  const server = http.createServer(function echo(req, res) {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      const record: Seen = {
        upstream: name,
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        bytes,
        sha256: hash.digest('hex'),
        remotePort: req.socket.remotePort!,
      };
      if (!req.url!.startsWith('/health/')) seen.push(record);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(record));
    });
  });
  const url = await listenOn(server);
  t.teardown(() => closeServer(server));
  return { url, seen };
}

export interface Hanging {
  url: string;
  requests: () => number;
  closed: () => number;
  /** Resolves when the first request arrives. */
  firstRequest: Promise<void>;
  /** Resolves when the first request's connection closes. */
  firstClose: Promise<void>;
}

/** Accepts connections and requests, and never answers. */
export async function startHanging(t: TestContext): Promise<Hanging> {
  let requests = 0;
  let closed = 0;
  let requested!: () => void;
  let disconnected!: () => void;
  const firstRequest = new Promise<void>((resolve) => (requested = resolve));
  const firstClose = new Promise<void>((resolve) => (disconnected = resolve));
  const server = http.createServer(function hang(req) {
    requests++;
    requested();
    req.socket.once('close', () => {
      closed++;
      disconnected();
    });
    req.resume();
  });
  const url = await listenOn(server);
  t.teardown(() => closeServer(server));
  return { url, requests: () => requests, closed: () => closed, firstRequest, firstClose };
}

/** A URL where nothing listens: the connection is refused. */
export async function deadUrl(): Promise<string> {
  const server = http.createServer();
  const url = await listenOn(server);
  await closeServer(server);
  return url;
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function newKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', {
    crv: 'Ed25519',
    extractable: true,
  });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  return { kid, privateKey, publicJwk };
}

/** A JWKS endpoint serving the public halves of `keys`, which a test may change at any time. */
export async function startJwks(
  t: TestContext,
  keys: SigningKey[],
): Promise<{ url: string; keys: SigningKey[]; fetches: () => number }> {
  let fetches = 0;
  const server = http.createServer(function jwks(_req, res) {
    fetches++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: keys.map((key) => key.publicJwk) }));
  });
  const url = `${await listenOn(server)}/api/auth/jwks.json`;
  t.teardown(() => closeServer(server));
  return { url, keys, fetches: () => fetches };
}

export interface TokenOptions {
  userId?: string;
  roles?: unknown;
  issuer?: string;
  audience?: string;
  expiresIn?: string | number;
}

/** An access token as the users service makes them: EdDSA, kid in the header. */
export function signToken(key: SigningKey, options: TokenOptions = {}): Promise<string> {
  return new SignJWT({ roles: options.roles ?? ['customer'] })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'at+jwt' })
    .setSubject(options.userId ?? 'user-1')
    .setIssuer(options.issuer ?? issuer)
    .setAudience(options.audience ?? audience)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(key.privateKey);
}

export interface GatewayHarness {
  url: string;
  config: GatewayConfig;
  logs: ReturnType<typeof captureLogs>;
  call(path: string, init?: RequestInit): Promise<Answer>;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
  ms: number;
}

/** A clock a test moves by hand: time passes only when the test says so. */
export interface ManualClock {
  now(): number;
  advance(ms: number): void;
}

export function manualClock(start = Date.now()): ManualClock {
  let current = start;
  return {
    now: () => current,
    advance(ms) {
      current += ms;
    },
  };
}

/**
 * A gateway on a free port, built from `env` (INTERNAL_SECRET and a JWKS_URL are filled in); with
 * `clock`, its breakers, micro-cache, remembered tokens and keys' age go by that clock.
 */
export async function startGateway(
  t: TestContext,
  env: Record<string, string>,
  options: { clock?: ManualClock } = {},
): Promise<GatewayHarness> {
  const config = loadGatewayConfig({
    INTERNAL_SECRET: internalSecret,
    JWKS_COOLDOWN_MS: '0',
    ...env,
  });
  const logs = captureLogs('gateway');
  const gateway = buildGateway({
    config,
    log: logs.log,
    metrics: createMetrics('gateway'),
    ...(options.clock ? { now: options.clock.now } : {}),
  });
  const server = await listen(gateway.app);
  server.server.on('upgrade', gateway.upgrade);
  t.teardown(async () => {
    await server.close(100);
    await gateway.close();
  });
  await gateway.ready();
  return {
    url: server.url,
    config,
    logs,
    call: (path, init) => call(`${server.url}${path}`, init),
  };
}

/**
 * Waits for a line with this message in captured logs: the event itself (the kit's `eventually`,
 * failing past its deadline with the message named). Returns the line.
 */
export function logged(
  logs: { lines: Array<Record<string, unknown>> },
  msg: string,
): Promise<Record<string, unknown>> {
  return eventually(`the log line "${msg}"`, () => logs.lines.find((entry) => entry.msg === msg));
}

export async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return {
    status: response.status,
    headers: response.headers,
    body,
    ms: performance.now() - started,
  };
}

/** Asserts a whole problem+json answer, its request id included. */
export function expectProblem(
  t: Pick<Test, 'equal' | 'same'>,
  answer: Answer,
  status: number,
  code: string,
  title: string,
  instance: string,
): void {
  t.equal(answer.status, status);
  t.equal(answer.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.same(answer.body, {
    ...problem(status, code, title, instance),
    requestId: answer.headers.get('x-request-id'),
  });
}

/** The problem+json body the gateway answers with (requestId and instance vary per request). */
export function problem(status: number, code: string, title: string, instance: string) {
  return { type: `urn:mercado:problem:${code}`, title, status, code, instance };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** Sends a request with node:http, for headers fetch refuses to set (Connection, TE, ...). */
export function rawRequest(
  url: string,
  options: http.RequestOptions & { body?: Buffer | Buffer[] },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { agent: false, ...options }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode!,
          headers: response.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    request.on('error', reject);
    const parts = options.body === undefined ? [] : [options.body].flat();
    for (const part of parts) request.write(part);
    request.end();
  });
}

function listenOn(server: http.Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
