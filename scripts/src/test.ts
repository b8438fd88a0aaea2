import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@mercado/common/testing';
import { startPostgres } from './postgres.js';
import { ensureSystemPrograms } from './system-packages.js';

/**
 * The test runner behind `npm test`: starts one throwaway Postgres for the run, hands its URL to
 * tap (each test file makes its own database on it), stops it afterwards, and prints a plain
 * `N passed, N failed` line. Exits with tap's code.
 */
async function main(): Promise<void> {
  if (!ensureSystemPrograms()) {
    process.stdout.write('0 passed, 1 failed\n');
    process.exit(1);
  }
  const started = Date.now();
  const dataDir = path.join(
    os.tmpdir(),
    `mercado-test-pg-${process.pid}-${randomBytes(3).toString('hex')}`,
  );
  const postgres = await startPostgres({
    dataDir,
    port: await freePort(),
    password: randomBytes(18).toString('base64url'),
    persistent: false,
  }).catch((error: unknown) => {
    process.stderr.write(`cannot start the test Postgres: ${(error as Error).message}\n`);
    process.stdout.write('0 passed, 1 failed\n');
    process.exit(1);
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await postgres.stop();
  };
  process.stdout.write(`test postgres up on port ${postgres.port} in ${Date.now() - started} ms\n`);

  const args = process.argv.slice(2);
  const child = spawn(
    process.execPath,
    [path.resolve('node_modules/tap/dist/esm/run.mjs'), ...args],
    {
      stdio: ['inherit', 'pipe', 'inherit'],
      env: {
        ...process.env,
        MERCADO_TEST_DATABASE_URL: postgres.url,
        TS_NODE_PROJECT: path.resolve('tsconfig.test.json'),
      },
    },
  );
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, function stopRun() {
      // tap stops its test processes on a signal; wait for it before Postgres goes away.
      const exit = () => void stop().finally(() => process.exit(130));
      if (child.exitCode !== null || child.signalCode !== null) return exit();
      child.kill(signal);
      child.once('close', exit);
    });
  }
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    output += chunk.toString('utf8');
    if (output.length > 200_000) output = output.slice(-100_000);
  });
  const code = await new Promise<number>((resolve) =>
    child.on('close', (exitCode) => resolve(exitCode ?? 1)),
  );
  await stop();
  process.stdout.write(`${summarise(output, code)}\n`);
  process.exit(code);
}

/**
 * tap's TAP-mode output (stdout is a pipe here) ends with `# { total: N, pass: N, fail: N }`,
 * leaving out zero counts; turn it into the plain line CI reads. A run that failed without a count
 * (a crash, a coverage shortfall) still reports a failure.
 */
function summarise(output: string, code: number): string {
  const totals = /^# \{ total: \d+(.*)\}\s*$/m.exec(output)?.[1] ?? '';
  const count = (name: string) => Number(new RegExp(`${name}: (\\d+)`).exec(totals)?.[1] ?? 0);
  const failed = count('fail') || (code === 0 ? 0 : 1);
  return `${count('pass')} passed, ${failed} failed`;
}

void main();
