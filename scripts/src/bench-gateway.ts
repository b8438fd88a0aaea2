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
    const barePort = await freePort();
    const usersUrl = `http://127.0.0.1:${usersPort}`;
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const bareUrl = `http://127.0.0.1:${barePort}`;
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
        // One client address sends everything here: measure the proxy, not the limiter's 429s.
        RATE_LIMIT_PER_IP: '0',
        RATE_LIMIT_PER_USER: '0',
      }),
    );
    await waitReady(gatewayUrl);
    children.push(
      startProcess('bare proxy', 'scripts/dist/bare-proxy.js', {
        PORT: String(barePort),
        TARGET_URL: usersUrl,
      }),
    );
    await waitReady(bareUrl);

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

    // The bare proxy passes headers through untouched, so it gets the gateway's signed identity
    // (what the gateway would add) rather than a token it could not verify.
    const routes = [
      { path: '/api/auth/jwks.json', direct: () => ({}), gateway: () => ({}) },
      { path: '/api/users/me', direct: signed, gateway: bearer },
    ];
    const rows: Array<{ path: string; direct: Figures; bare: Figures; gateway: Figures }> = [];
    for (const route of routes) {
      rows.push({
        path: route.path,
        direct: await run('direct', `${usersUrl}${route.path}`, route.direct),
        bare: await run('bare node:http proxy', `${bareUrl}${route.path}`, route.direct),
        gateway: await run('gateway', `${gatewayUrl}${route.path}`, route.gateway),
      });
    }

    const cpus = os.cpus();
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(
      `\nGateway benchmark: ${connections} connections, ${durationSeconds}s per run, ` +
        `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, node ${process.version}`,
    );
    out(
      `${'route'.padEnd(22)}${'via'.padEnd(22)}${'req/s'.padStart(9)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}${'of direct'.padStart(11)}`,
    );
    for (const row of rows) {
      for (const f of [row.direct, row.bare, row.gateway]) {
        out(
          `${row.path.padEnd(22)}${f.label.padEnd(22)}${f.rps.toFixed(0).padStart(9)}` +
            `${f.p50.toFixed(1).padStart(9)}${f.p99.toFixed(1).padStart(9)}` +
            `${String(f.errors).padStart(8)}${`${((f.rps / row.direct.rps) * 100).toFixed(0)}%`.padStart(11)}`,
        );
      }
    }
  } finally {
    await cleanup();
  }
}

void main();
