import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../src/local-state.js';
import {
  countsFromTap,
  failureReport,
  FailureCollector,
  summaryLine,
  summaryPattern,
} from '../src/test-summary.js';

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
  // A tap run of its own, in a project of its own: tap keeps its state in the project's `.tap/`
  // and clears it when it starts, so a run in the repository would empty the coverage of the run
  // this test is part of while it is being written (tap then crashed with ENOTEMPTY in CI).
  const project = await mkdtemp(path.join(os.tmpdir(), 'mercado-tap-fixture-'));
  t.teardown(() => rm(project, { recursive: true, force: true }));
  await writeFile(path.join(project, 'package.json'), '{"type":"module","private":true}\n');
  await symlink(path.join(repoRoot, 'node_modules'), path.join(project, 'node_modules'));
  await copyFile(
    path.join(repoRoot, 'scripts/test/fixtures/mixed-outcomes.mjs'),
    path.join(project, 'mixed-outcomes.mjs'),
  );
  // None of this run's TAP_* settings, no coverage.
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
      'mixed-outcomes.mjs',
    ],
    { cwd: project, env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number>((resolve) =>
    child.on('close', (status) => resolve(status ?? 1)),
  );
  t.equal(code, 1, 'the failing test fails the run');
  t.equal(line(output, code), '1 passed, 1 failed, 1 skipped, 1 todo', output);

  // Fed in pieces, as the runner gets it: the one failure, by its path, with where it failed.
  const collector = new FailureCollector();
  for (let at = 0; at < output.length; at += 7) collector.write(output.slice(at, at + 7));
  const failures = collector.end();
  t.same(
    failures.map((failure) => failure.path),
    [['mixed-outcomes.mjs', 'fails', 'no']],
    'the failed assertion, by its path',
  );
  t.match(
    failureReport(failures),
    /^# failed tests \(1\)\nnot ok: .*mixed-outcomes\.mjs > fails > no\n/,
  );
  t.match(failureReport(failures), /lineNumber: 7\n/, 'the diagnostic says where');
});

t.test('only the innermost failures are listed, under their subtests', async (t) => {
  const collector = new FailureCollector();
  collector.write(
    [
      '# Subtest: a.test.ts',
      '    # Subtest: outer',
      '        # Subtest: inner',
      '            ok 1 - fine',
      '            not ok 2 - should be equal',
      '              ---',
      '              found: 1',
      '              wanted: 2',
      '              ...',
      '            1..2',
      '        not ok 1 - inner # time=3ms',
      '        # Subtest: passes',
      '            ok 1 - yes',
      '        ok 2 - passes # time=1ms',
      '        not ok 3 - timed out on its own # time=120000ms',
      '          ---',
      '          expired: TIMEOUT',
      '          ...',
      '    not ok 1 - outer # time=9ms',
      'not ok 1 - a.test.ts # time=10ms',
      '# Subtest: b.test.ts',
      '    ok 1 - b',
      'ok 2 - b.test.ts',
      '',
    ].join('\n'),
  );
  const failures = collector.end();
  t.same(failures, [
    {
      path: ['a.test.ts', 'outer', 'inner', 'should be equal'],
      diagnostic: ['---', 'found: 1', 'wanted: 2'],
    },
    {
      path: ['a.test.ts', 'outer', 'timed out on its own'],
      diagnostic: ['---', 'expired: TIMEOUT'],
    },
  ]);
  t.equal(failureReport([]), '', 'nothing when nothing failed');
  const many = Array.from({ length: 12 }, (_, i) => ({ path: [`t${i}`], diagnostic: [] }));
  t.match(failureReport(many, 10), /… and 2 more\n$/);
});
