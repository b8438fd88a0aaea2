import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface TestRedis {
  url: string;
  port: number;
  /** Stops the server (SIGTERM: it saves nothing, its data is gone). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/**
 * A throwaway redis-server (Debian's `redis-server`, installed by the test runner) on 127.0.0.1
 * and a free port, without persistence; stopped and removed when the test ends.
 */
export async function startTestRedis(t: Teardown): Promise<TestRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const current = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = current;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      };
      current.stdout?.on('data', onData);
      current.stderr?.on('data', onData);
      current.once('error', reject);
      current.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
    });
    current.stdout?.resume();
    current.stderr?.resume();
  }

  async function stop(): Promise<void> {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGTERM');
    await exited;
  }

  t.teardown(async function stopTestRedis() {
    await stop();
    await rm(dir, { recursive: true, force: true });
  });
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}
