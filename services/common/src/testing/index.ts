import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import knexFactory from 'knex';
import { createLogger, type Logger } from '../logger.js';
import { signIdentity, type Identity } from '../identity.js';

/** Set by the test runner (scripts/src/test.ts), which starts one throwaway Postgres per run. */
export const testServerUrlVariable = 'MERCADO_TEST_DATABASE_URL';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * Creates a fresh, empty database on the run's Postgres server and drops it when the test ends, so
 * test files never see each other's rows and can run in parallel.
 */
export async function createTestDatabase(t: Teardown, prefix = 't'): Promise<string> {
  const serverUrl = process.env[testServerUrlVariable];
  if (!serverUrl) {
    throw new Error(
      `${testServerUrlVariable} is not set: run the tests with \`npm test\` (it starts Postgres)`,
    );
  }
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: serverUrl, pool: { min: 0, max: 1 } });
  await admin.raw(`create database ${name}`);
  t.teardown(async function dropTestDatabase() {
    await admin.raw(`drop database if exists ${name} with (force)`);
    await admin.destroy();
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A logger whose lines are kept in memory, parsed, for assertions on what was (not) logged. */
export function captureLogs(name = 'test'): {
  log: Logger;
  lines: Array<Record<string, unknown>>;
  text: () => string;
} {
  const raw: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const log = createLogger({ name, level: 'trace', destination });
  return { log, lines, text: () => raw.join('\n') };
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is (with a JSON content type unless `headers` says otherwise). */
  rawBody?: string;
  /** Signed as the gateway (or another service) would sign it; none means no identity headers. */
  identity?: Identity;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  /** Parsed JSON, or the text when it is not JSON. */
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read any shape
}

/** Calls a service directly as the gateway or another service would: a freshly signed identity. */
export async function callService(
  baseUrl: string,
  internalSecret: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<CallResult> {
  const headers: Record<string, string> = {
    ...(options.identity ? signIdentity(options.identity, internalSecret) : {}),
    ...options.headers,
  };
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed };
}
