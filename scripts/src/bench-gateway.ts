import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { signIdentity } from '@mercado/common';
import { freePort } from './free-port.js';
import { databaseUrl, ensureDatabases, startPostgres } from './postgres.js';
import { generateSigningKey } from './signing-keys.js';

/**
 * `npm run bench:gateway`: the same requests against the users service directly and through the
 * gateway, in one run on this machine, printing req/s and latency percentiles. Figures, not a test:
 * nothing here passes or fails on speed.
 */

const durationSeconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const internalSecret = randomBytes(48).toString('base64url');

function startProcess(name: string, entry: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [entry], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (!stopping) process.stderr.write(`${name} exited early (${code ?? signal})\n`);
  });
  return child;
}

async function waitReady(url: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never became ready`);
}

interface Figures {
  label: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function run(
  label: string,
  url: string,
  headers: () => Record<string, string>,
): Promise<Figures> {
  // Warm-up: connection pools, JIT, JWKS cache.
  await autocannon({ url, connections, duration: 2, headers: headers() });
  const result = await autocannon({
    url,
    connections,
    duration: durationSeconds,
    headers: headers(),
  });
  return {
    label,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx,
  };
}

let stopping = false;

async function main(): Promise<void> {
  const pgDir = path.join(os.tmpdir(), `mercado-bench-pg-${process.pid}`);
  const postgres = await startPostgres({
    dataDir: pgDir,
    port: await freePort(),
    password: randomBytes(18).toString('base64url'),
    persistent: false,
  });
  const children: ChildProcess[] = [];
  const cleanup = async () => {
    stopping = true;
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? undefined
          : new Promise((resolve) => child.once('exit', resolve)),
      ),
    );
    await postgres.stop();
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  try {
    await ensureDatabases(postgres.url, ['mercado_users']);
    const usersPort = await freePort();
    const gatewayPort = await freePort();
    const usersUrl = `http://127.0.0.1:${usersPort}`;
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const key = await generateSigningKey();
    children.push(
      startProcess('users', 'services/users/dist/main.js', {
        PORT: String(usersPort),
        DATABASE_URL: databaseUrl(postgres.url, 'mercado_users'),
        INTERNAL_SECRET: internalSecret,
        JWT_SIGNING_KEYS: JSON.stringify([key]),
      }),
    );
    await waitReady(usersUrl);
    children.push(
      startProcess('gateway', 'gateway/dist/main.js', {
        PORT: String(gatewayPort),
        INTERNAL_SECRET: internalSecret,
        USERS_URLS: usersUrl,
      }),
    );
    await waitReady(gatewayUrl);

    const session = await fetch(`${gatewayUrl}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'load@example.com',
        password: 'a long measuring passphrase',
        name: 'Bench',
      }),
    }).then(async (response) => {
      const body = (await response.json()) as { accessToken: string; user: { id: string } };
      if (!response.ok) throw new Error(`register: ${response.status} ${JSON.stringify(body)}`);
      return body;
    });
    const bearer = () => ({ authorization: `Bearer ${session.accessToken}` });
    const signed = () =>
      signIdentity(
        { userId: session.user.id, roles: ['customer'], ip: '127.0.0.1' },
        internalSecret,
      );

    const figures: Array<[Figures, Figures]> = [];
    figures.push([
      await run('GET /api/auth/jwks.json  direct ', `${usersUrl}/api/auth/jwks.json`, () => ({})),
      await run('GET /api/auth/jwks.json  gateway', `${gatewayUrl}/api/auth/jwks.json`, () => ({})),
    ]);
    figures.push([
      await run('GET /api/users/me        direct ', `${usersUrl}/api/users/me`, signed),
      await run('GET /api/users/me        gateway', `${gatewayUrl}/api/users/me`, bearer),
    ]);

    const cpus = os.cpus();
    process.stdout.write(
      `\nGateway benchmark: ${connections} connections, ${durationSeconds}s per run, ` +
        `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, node ${process.version}\n`,
    );
    process.stdout.write('route                               req/s    p50 ms   p99 ms  errors\n');
    for (const [direct, gateway] of figures) {
      for (const f of [direct, gateway]) {
        process.stdout.write(
          `${f.label}  ${f.rps.toFixed(0).padStart(9)} ${f.p50.toFixed(1).padStart(8)} ${f.p99
            .toFixed(1)
            .padStart(8)} ${String(f.errors).padStart(7)}\n`,
        );
      }
      process.stdout.write(
        `  through the gateway: ${((gateway.rps / direct.rps) * 100).toFixed(0)}% of direct\n`,
      );
    }
  } finally {
    await cleanup();
  }
}

void main();
