import { execFile, spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { eventually, freePort } from '@mercado/common/testing';
import { ensureSystemPrograms, type SystemProgram } from '../system-packages.js';
import { stopChild } from './broker.js';
import { loopback } from './loopback.js';
import type { Ceiling } from './report.js';
import { latencyHistogram, percentilesMs } from './schedule.js';
import {
  connections,
  durationSeconds,
  measureMax,
  warmupSeconds,
  type BenchSystem,
  type Figures,
} from './system.js';

/**
 * Three of the four ceilings the report compares figures with, each measured in the run that
 * uses it (the fourth, bare aedes, is measured by the MQTT benchmarks beside their own figures):
 * - nginx serving a static file, driven by wrk (autocannon's one thread tops out below what nginx
 *   serves here, so it would measure itself);
 * - the Express trivial upstream (express-trivial.ts), driven by autocannon as the services are;
 * - Postgres simple writes: single-row INSERTs on the benchmark's Postgres, 20 in flight.
 */

const execFileAsync = promisify(execFile);

/** What the benchmarks (not the tests) need installed; ensured as the test runner ensures its own. */
export const benchPrograms: SystemProgram[] = [
  {
    command: 'wrk',
    probe: ['-v'],
    // wrk prints its version and usage and exits 1.
    probeExitsNonZero: true,
    debianPackage: 'wrk',
    neededBy: 'npm run bench drives nginx with wrk (the static-file ceiling)',
  },
];

export function ensureBenchPrograms(): void {
  if (!ensureSystemPrograms(benchPrograms, undefined, 'the benchmarks')) {
    throw new Error('bench: wrk is missing (see the line above)');
  }
}

/** The Express hello world in a process of its own, autocannon's maximum against it. */
export async function measureExpressTrivial(): Promise<Ceiling & Figures> {
  const entry = fileURLToPath(new URL('./express-trivial.js', import.meta.url));
  const child = spawn(process.execPath, [entry], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message: { port?: number }) =>
        message.port ? resolve(message.port) : reject(new Error('express-trivial: no port')),
      );
      child.once('exit', (code) => reject(new Error(`express-trivial exited (${code})`)));
    });
    const measured = await measureMax('Express trivial upstream', `http://127.0.0.1:${port}/`);
    return { name: 'Express trivial upstream', ...measured };
  } finally {
    await stopChild(child);
  }
}

/** wrk's summary with `--latency`: requests/s, p50 and p99 in ms, errors. */
export function parseWrk(output: string): {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
} {
  const ms = (value: string, unit: string) =>
    Number(value) * ({ us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit] ?? Number.NaN);
  const percentile = (which: string) => {
    const match = new RegExp(`^\\s+${which}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
    return match ? ms(match[1]!, match[2]!) : Number.NaN;
  };
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const errors =
    (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) +
    (non2xx ? Number(non2xx[1]) : 0);
  return {
    rps: rps ? Number(rps[1]) : Number.NaN,
    p50: percentile('50'),
    p99: percentile('99'),
    errors,
  };
}

/** wrk against `url` for `seconds`: 2 threads (one a core), `connections` open. */
async function wrk(url: string, seconds: number) {
  const { stdout } = await execFileAsync('wrk', [
    '-t2',
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    loopback(url),
  ]);
  return parseWrk(stdout);
}

/**
 * nginx from a private prefix (as scripts/test/nginx.test.ts runs it), one worker a core, serving
 * a 1 KiB HTML file with no access log: wrk's maximum against it after the warm-up.
 */
export async function measureNginxStatic(): Promise<Ceiling> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-bench-nginx-'));
  // nginx's workers run as nobody: they must be able to read the file.
  await chmod(dir, 0o755);
  await mkdir(path.join(dir, 'site'));
  await mkdir(path.join(dir, 'temp'));
  await writeFile(
    path.join(dir, 'site', 'index.html'),
    `<!doctype html><html lang="en"><meta charset="utf-8"><title>static</title><p>${'x'.repeat(950)}</p></html>\n`,
    { mode: 0o644 },
  );
  const port = await freePort();
  const temp = (name: string) => `${name}_temp_path ${dir}/temp/${name};`;
  await writeFile(
    path.join(dir, 'nginx.conf'),
    `worker_processes auto;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/site;
  }
}
`,
  );
  const nginx = spawn('nginx', ['-p', dir, '-c', 'nginx.conf', '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const url = `http://127.0.0.1:${port}/index.html`;
    await eventually('nginx serving the static file', async () => {
      if (nginx.exitCode !== null) throw new Error(`nginx exited (${nginx.exitCode})`);
      return fetch(loopback(url)).then(
        (answer) => answer.ok,
        () => false,
      );
    });
    await wrk(url, warmupSeconds);
    return { name: 'nginx static file (wrk)', ...(await wrk(url, durationSeconds)) };
  } finally {
    if (nginx.exitCode === null && nginx.signalCode === null) {
      const exited = new Promise((resolve) => nginx.once('exit', resolve));
      nginx.kill('SIGQUIT');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Single-row INSERTs into a table of their own on the benchmark's Postgres (its settings, the
 * services' server), 20 in flight on a pool for BENCH_SECONDS after a 1 s warm-up, each timed:
 * the most any write path of the services could reach here.
 */
export async function measurePostgresWrites(system: BenchSystem): Promise<Ceiling> {
  const url = system.databaseUrl('postgres');
  const pool = new pg.Pool({ connectionString: url, max: 20 });
  const table = `bench_writes_${process.pid}`;
  try {
    await pool.query(
      `create table ${table} (id bigint generated always as identity primary key,
         at timestamptz not null default now(), note text not null)`,
    );
    const latencies = latencyHistogram();
    let errors = 0;
    const run = async (ms: number, timed: boolean) => {
      const until = performance.now() + ms;
      let count = 0;
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (performance.now() < until) {
            const started = process.hrtime.bigint();
            try {
              await pool.query(`insert into ${table} (note) values ($1)`, [`write ${count}`]);
              count++;
              if (timed) {
                latencies.recordValue(
                  Math.max(1, Number((process.hrtime.bigint() - started) / 1000n)),
                );
              }
            } catch {
              errors++;
            }
          }
        }),
      );
      return count;
    };
    await run(1000, false);
    errors = 0;
    const started = performance.now();
    const count = await run(durationSeconds * 1000, true);
    const seconds = (performance.now() - started) / 1000;
    const { p50, p99 } = percentilesMs(latencies);
    return {
      name: 'Postgres single-row INSERTs',
      unit: 'inserts/s',
      rps: count / seconds,
      p50,
      p99,
      errors,
    };
  } finally {
    await pool.query(`drop table if exists ${table}`).catch(() => undefined);
    await pool.end();
  }
}

/** `nginx -v`, `wrk -v`: the first version-looking word each prints. */
export function toolVersion(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  const text = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  return /(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1] ?? 'unknown';
}
