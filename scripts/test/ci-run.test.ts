import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../src/local-state.js';

/**
 * `.ci/run` with a stand-in `npm` first on PATH (npm's own behaviour is not what is tested here):
 * its `ci` and `test` exit as told, `test` printing what it is told; every call is recorded.
 */
async function ciRun(
  t: { teardown(fn: () => unknown): void },
  npm: { ci: number; test?: { status: number; output: string } },
) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-ci-run-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const calls = path.join(dir, 'calls');
  await writeFile(path.join(dir, 'test-output'), npm.test?.output ?? '');
  await writeFile(
    path.join(dir, 'npm'),
    `#!/usr/bin/env bash
echo "$*" >> ${JSON.stringify(calls)}
case "$1" in
  ci) echo "npm ci output"; exit ${npm.ci} ;;
  test) cat ${JSON.stringify(path.join(dir, 'test-output'))}; exit ${npm.test?.status ?? 0} ;;
esac
exit 99
`,
  );
  await chmod(path.join(dir, 'npm'), 0o755);
  const child = spawn('bash', [path.join(repoRoot, '.ci/run')], {
    env: { PATH: `${dir}:${process.env.PATH}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const called = (await readFile(calls, 'utf8').catch(() => '')).trim().split('\n');
  return { status, lastLine: stdout.trimEnd().split('\n').at(-1), called };
}

t.test('a failing npm ci still ends with a summary line, and no tests run', async (t) => {
  const run = await ciRun(t, { ci: 1 });
  t.not(run.status, 0);
  t.equal(run.lastLine, '0 passed, 1 failed, 0 skipped');
  t.same(run.called, ['ci --no-audit --no-fund']);
});

t.test("the test runner's summary is the last line and its status the exit code", async (t) => {
  const failing = await ciRun(t, {
    ci: 0,
    test: { status: 1, output: 'not ok 4 - fails\n3 passed, 1 failed, 2 skipped, 1 todo\n' },
  });
  t.equal(failing.status, 1, 'a failing test fails CI');
  t.equal(failing.lastLine, '3 passed, 1 failed, 2 skipped, 1 todo');
  t.same(failing.called, ['ci --no-audit --no-fund', 'test --silent']);

  const passing = await ciRun(t, {
    ci: 0,
    test: { status: 0, output: 'ok 1 - fine\n5 passed, 0 failed, 0 skipped\n' },
  });
  t.equal(passing.status, 0);
  t.equal(passing.lastLine, '5 passed, 0 failed, 0 skipped');
});

t.test('checks that fail before the runner starts get a summary line of their own', async (t) => {
  const lint = await ciRun(t, {
    ci: 0,
    test: { status: 1, output: 'src/x.ts\n  1:1  error  something  rule\n' },
  });
  t.equal(lint.status, 1);
  t.equal(lint.lastLine, '0 passed, 1 failed, 0 skipped');

  const silent = await ciRun(t, { ci: 0, test: { status: 0, output: 'no summary at all\n' } });
  t.equal(silent.status, 1, 'a run that printed no summary is not a success');
  t.equal(silent.lastLine, '0 passed, 1 failed, 0 skipped');
});
