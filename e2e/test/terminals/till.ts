import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { signUpAdmin, strongPassword } from '@mercado/users/testing';
import {
  startCheckoutSystem,
  type CheckoutSystem,
  type CheckoutSystemOptions,
} from '../checkout/system.js';

/**
 * The whole system with the real terminal registry (the broker verifies terminals at users, as
 * in production) and a first admin as `npm start` makes one, for tests that drive the terminal
 * simulator (`npm run terminal`) and the root README's "Paying at a terminal" as a user would:
 * child processes only, nothing of the simulator imported.
 */

interface TestContext {
  teardown(fn: () => unknown): void;
}

/** The repository's root: the README and the built simulator are run from there, not imported. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** The simulator as the test runner built it (`tsc -b` before every run). */
export const simulator = path.join(repoRoot, 'scripts', 'dist', 'terminal.js');

export const adminEmail = 'admin@mercado.local';

export interface TerminalSystem extends CheckoutSystem {
  adminPassword: string;
  /** The admin's access token, through the gateway. */
  adminToken(): Promise<string>;
  /** A terminal registered through the gateway (`POST /api/terminals`): its id and secret. */
  registerTerminal(name?: string): Promise<{ id: string; secret: string }>;
  /** The environment a shell on this system needs: the broker's URL and port. */
  env: Record<string, string>;
}

export async function startTerminalSystem(
  t: TestContext,
  options: CheckoutSystemOptions = {},
): Promise<TerminalSystem> {
  const system = await startCheckoutSystem(t, { ...options, terminalRegistry: 'users' });
  // The admin `npm start` makes (ADMIN_EMAIL, ADMIN_PASSWORD), as the users harness makes one.
  await signUpAdmin(system.users, adminEmail);
  const adminPassword = strongPassword;
  async function adminToken(): Promise<string> {
    const login = await system.api(undefined, 'POST', '/api/auth/login', {
      body: { email: adminEmail, password: adminPassword },
    });
    if (login.status !== 200) throw new Error(`admin login gave ${login.status}`);
    return login.body.accessToken as string;
  }
  return Object.assign(system, {
    adminPassword,
    adminToken,
    async registerTerminal(name = 'Till') {
      const token = await adminToken();
      const created = await system.api(undefined, 'POST', '/api/terminals', {
        headers: { authorization: `Bearer ${token}` },
        body: { name },
      });
      if (created.status !== 201) {
        throw new Error(`registering gave ${created.status}: ${JSON.stringify(created.body)}`);
      }
      return { id: created.body.terminal.id as string, secret: created.body.secret as string };
    },
    env: { MQTT_URL: system.broker.url, MQTT_PORT: String(system.broker.port) },
  });
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  /** Resolves with the first line of stderr matching `pattern` (its match). */
  stderrLine(pattern: RegExp): Promise<RegExpMatchArray>;
  finished: Promise<Finished>;
}

/** Runs a command with `env` added to the test's own (or `baseEnv`), collecting its output as it comes. */
export function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd = repoRoot,
  baseEnv: NodeJS.ProcessEnv = process.env,
): Running {
  const child = spawn(command, args, {
    cwd,
    env: { ...baseEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers: Array<{ pattern: RegExp; resolve(match: RegExpMatchArray): void }> = [];
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const watcher of [...watchers]) {
      const match = stderr.match(watcher.pattern);
      if (match) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve(match);
      }
    }
  });
  const finished = new Promise<Finished>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return {
    finished,
    stderrLine(pattern) {
      const match = stderr.match(pattern);
      if (match) return Promise.resolve(match);
      return new Promise((resolve, reject) => {
        watchers.push({ pattern, resolve });
        void finished.then(() =>
          reject(new Error(`exited without printing ${pattern} on stderr:\n${stderr}`)),
        );
      });
    },
  };
}

/** `npm run terminal -- …args` as the built simulator. */
export function runSimulator(args: string[], env: Record<string, string>): Running {
  return run(process.execPath, [simulator, ...args], env);
}
