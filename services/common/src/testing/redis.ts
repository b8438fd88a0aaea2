import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface TestRedis {
  /** `redis://:{password}@127.0.0.1:{port}`: clients take the password from the URL. */
  url: string;
  port: number;
  /** The server requires it (`requirepass`), as Compose's Redis does. */
  password: string;
  /** Stops the server (SIGTERM: it saves nothing, its data is gone). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/**
 * A throwaway redis-server (Debian's `redis-server`, installed by the test runner) on 127.0.0.1
 * and a free port, without persistence, requiring a password as Compose's does (so every client
 * under test must pass it); stopped and removed when the test ends.
 */
export async function startTestRedis(t: Teardown): Promise<TestRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-redis-'));
  const port = await freePort();
  // URL-safe (base64url), as the Compose one must be: it travels in the clients' URLs.
  const password = randomBytes(18).toString('base64url');
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const current = spawn(
      'redis-server',
      // On the command line: a throwaway server on the loopback interface, gone with the test.
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--requirepass',
        password,
      ],
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
  return { url: `redis://:${password}@127.0.0.1:${port}`, port, password, stop, start };
}
