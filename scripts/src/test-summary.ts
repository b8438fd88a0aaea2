/**
 * The plain summary line the test runner prints last and CI reads:
 * `N passed, N failed, N skipped`, then `, N todo` when there are any.
 */
export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
  todo: number;
}

export function summaryLine({ passed, failed, skipped, todo }: TestCounts): string {
  return `${passed} passed, ${failed} failed, ${skipped} skipped${todo > 0 ? `, ${todo} todo` : ''}`;
}

/** What `.ci/run` accepts as the runner's last line. */
export const summaryPattern = /^\d+ passed, \d+ failed, \d+ skipped(, \d+ todo)?$/;

/**
 * Reads tap's own totals from its TAP-mode output, which ends with
 * `# { total: N, pass: N, fail: N, todo: N, skip: N }` and leaves out the counts that are zero.
 * A run that failed without a failing count (a crash, a coverage shortfall, a build that broke)
 * still reports one failure, so the line never reads as green when the run was not.
 */
export function countsFromTap(output: string, exitCode: number): TestCounts {
  const totals = [...output.matchAll(/^# \{ total: \d+(.*)\}\s*$/gm)].at(-1)?.[1] ?? '';
  const count = (name: string) => Number(new RegExp(`\\b${name}: (\\d+)`).exec(totals)?.[1] ?? 0);
  const failed = count('fail');
  return {
    passed: count('pass'),
    failed: failed > 0 || exitCode === 0 ? failed : 1,
    skipped: count('skip'),
    todo: count('todo'),
  };
}
