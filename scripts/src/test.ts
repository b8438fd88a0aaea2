import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '@mercado/common/testing';
import { startPostgres } from './postgres.js';
import { repoRoot } from './local-state.js';
import { ensureSystemPrograms } from './system-packages.js';
import { countsFromTap, failureReport, FailureCollector, summaryLine } from './test-summary.js';

const failedToStart = summaryLine({ passed: 0, failed: 1, skipped: 0, todo: 0 });

/**
 * `tsc -b` and the site's build before any test: tests that start a built entry point (a
 * service's dist/main.js, the launcher) or load the storefront then run the code in front of them,
 * never a build older than it. Up to date, `tsc -b` costs well under a second; the site about one.
 */
function build(): boolean {
  const tsc = path.join(repoRoot, 'node_modules/typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-b'], { cwd: repoRoot, stdio: 'inherit' });
  if (result.status !== 0) return false;
  // And the storefront's site, which the gateway serves and the browser tests load.
  const site = spawnSync(process.execPath, [path.join(repoRoot, 'frontend/build.mjs')], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return site.status === 0;
}

/**
 * The test runner behind `npm test`: builds, starts one throwaway Postgres for the run, hands its
 * URL to tap (each test file makes its own database on it), stops it afterwards, and prints a
 * plain `N passed, N failed, N skipped` line (see test-summary.ts). Exits with tap's code.
 */
async function main(): Promise<void> {
  if (!build() || !ensureSystemPrograms()) {
    process.stdout.write(`${failedToStart}\n`);
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
  const failures = new FailureCollector();
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    process.stdout.write(chunk);
    failures.write(chunk);
    output += chunk;
    if (output.length > 200_000) output = output.slice(-100_000);
  });
  const code = await new Promise<number>((resolve) =>
    child.on('close', (exitCode) => resolve(exitCode ?? 1)),
  );
  await stop();
  // Last but one, where CI's excerpt of the log shows them: which tests failed, and where.
  const failed = failures.end();
  process.stdout.write(failureReport(failed));
  if (code !== 0 && failed.length === 0) {
    process.stdout.write(
      `# no test failed, yet tap exited ${code}: a coverage threshold or a crash (above)\n`,
    );
  }
  process.stdout.write(`${summaryLine(countsFromTap(output, code))}\n`);
  process.exit(code);
}

void main();
