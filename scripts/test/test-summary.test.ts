import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../src/local-state.js';
import { countsFromTap, summaryLine, summaryPattern } from '../src/test-summary.js';

const line = (output: string, code: number) => summaryLine(countsFromTap(output, code));

t.test('the summary counts passed, failed, skipped, and todo when there are any', async (t) => {
  t.equal(line('# { total: 5, pass: 5 }\n# time=3.2ms\n', 0), '5 passed, 0 failed, 0 skipped');
  t.equal(line('# { total: 5, pass: 4, skip: 1 }\n', 0), '4 passed, 0 failed, 1 skipped');
  t.equal(
    line('# { total: 6, pass: 1, fail: 1, todo: 2, skip: 2 }\n', 1),
    '1 passed, 1 failed, 2 skipped, 2 todo',
  );
  t.equal(
    line('    # { total: 1, fail: 1 }\n# { total: 3, pass: 3 }\n', 0),
    '3 passed, 0 failed, 0 skipped',
    "a subtest's own totals (indented) are not the run's",
  );
});

t.test('a run that failed without a failing test still counts one failure', async (t) => {
  t.equal(line('# { total: 5, pass: 5 }\n', 1), '5 passed, 1 failed, 0 skipped', 'coverage');
  t.equal(line('Error: cannot find module\n', 1), '0 passed, 1 failed, 0 skipped', 'a crash');
  t.equal(line('', 0), '0 passed, 0 failed, 0 skipped', 'nothing ran, nothing failed');
});

t.test('every summary line is one CI accepts', async (t) => {
  for (const text of [
    summaryLine({ passed: 0, failed: 1, skipped: 0, todo: 0 }),
    summaryLine({ passed: 12, failed: 0, skipped: 3, todo: 1 }),
  ]) {
    t.match(text, summaryPattern);
  }
  t.notMatch('3 passed, 0 failed', summaryPattern, 'the old line, which dropped skips, is not');
});

t.test("tap's own output, one test of each outcome, is read right", async (t) => {
  const fixture = path.join(repoRoot, 'scripts/test/fixtures/mixed-outcomes.mjs');
  // A tap run of its own: none of this run's TAP_* settings, no coverage.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('TAP') && name !== 'NODE_OPTIONS',
    ),
  );
  const child = spawn(
    process.execPath,
    [
      path.join(repoRoot, 'node_modules/tap/dist/esm/run.mjs'),
      '-R',
      'tap',
      '--disable-coverage',
      fixture,
    ],
    { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number>((resolve) =>
    child.on('close', (status) => resolve(status ?? 1)),
  );
  t.equal(code, 1, 'the failing test fails the run');
  t.equal(line(output, code), '1 passed, 1 failed, 1 skipped, 1 todo', output);
});
