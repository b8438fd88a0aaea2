import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { createTestDatabase } from '@mercado/common/testing';

// Plain JavaScript on the built kit (`npm test` builds before it tests): a Node start per case.
const fixture = fileURLToPath(new URL('./fixtures/crashing-process.mjs', import.meta.url));
const secret = 'crash-test-secret-that-must-never-be-logged-0123';

/**
 * Runs the fixture, waits for the line that says it is up, tells it how to crash, and collects
 * what it wrote and its exit code.
 */
async function crash(runner: 'main' | 'database', how: 'throw' | 'reject', env = {}) {
  const child = spawn(process.execPath, [fixture, runner], {
    env: { PATH: process.env.PATH, CRASH_TEST_SECRET: secret, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let told = false;
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (!told && stdout.includes('service listening')) {
      told = true;
      child.stdin.write(`${how}\n`);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const lines = stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { code, lines, output: stdout + stderr, stderr };
}

// The four processes are independent: they start side by side.
t.jobs = 4;

for (const runner of ['main', 'database'] as const) {
  for (const [how, event, msg] of [
    ['throw', 'uncaught_exception', 'uncaught exception; exiting'],
    ['reject', 'unhandled_rejection', 'unhandled promise rejection; exiting'],
  ] as const) {
    t.test(
      `${runner === 'main' ? 'runMain' : 'runDatabaseService'}: ${event.replace('_', ' ')} after start-up is one fatal JSON line, no secret, exit 1`,
      async (t) => {
        const env = runner === 'database' ? { DATABASE_URL: await createTestDatabase(t) } : {};
        const { code, lines, output, stderr } = await crash(runner, how, env);
        t.equal(code, 1, 'a non-zero exit: the launcher or Compose starts a fresh process');
        const fatal = lines.filter((line) => line.level === 'fatal');
        t.equal(fatal.length, 1, 'one line');
        t.match(fatal[0], {
          level: 'fatal',
          service: 'crashing',
          event,
          msg,
          err: { type: 'Error', message: 'the stock ledger drifted', code: 'LEDGER_DRIFT' },
        });
        t.notOk(output.includes(secret), 'the error’s other properties are not logged');
        t.equal(stderr.trim(), '', 'nothing outside the JSON log');
      },
    );
  }
}
