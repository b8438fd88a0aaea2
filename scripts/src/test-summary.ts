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

/** A failed test: the names from its file down to it, and the start of tap's diagnostic. */
export interface Failure {
  path: string[];
  diagnostic: string[];
}

const diagnosticLines = 16;

/**
 * Collects the failed tests from tap's TAP-mode output as it streams (a run's output is too long
 * to keep whole), so the runner can list them last, where CI's excerpt of the log shows them —
 * after the coverage table, before the summary line. Only the innermost failures are kept: a
 * subtest that failed because an assertion in it did is named by that assertion's path.
 */
export class FailureCollector {
  readonly failures: Failure[] = [];
  /** The `# Subtest:` names open at each indentation (4 spaces a level). */
  private readonly open: Array<{ indent: number; name: string }> = [];
  private pending = '';
  private diagnostic: { indent: number; lines: string[] } | undefined;

  write(chunk: string): void {
    const lines = (this.pending + chunk).split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  end(): Failure[] {
    if (this.pending) this.line(this.pending);
    this.pending = '';
    return this.failures;
  }

  private line(line: string): void {
    const indent = line.length - line.trimStart().length;
    const text = line.trim();
    if (this.diagnostic) {
      if (text === '...' && indent <= this.diagnostic.indent + 2) {
        this.diagnostic = undefined;
      } else if (indent > this.diagnostic.indent || text === '---') {
        if (this.diagnostic.lines.length < diagnosticLines) this.diagnostic.lines.push(text);
        return;
      } else {
        this.diagnostic = undefined;
      }
    }
    const subtest = /^# Subtest: (.*)$/.exec(text);
    if (subtest) {
      this.close(indent);
      this.open.push({ indent, name: subtest[1]! });
      return;
    }
    const result = /^(not )?ok \d+(?: - (.*?))?(?: # (?:time=|SKIP|TODO).*)?$/.exec(text);
    if (!result) return;
    // The result line of a subtest sits at its `# Subtest:` line's indentation, and closes it.
    const name = result[2] ?? '';
    this.close(indent);
    const closesOwn = this.open.at(-1)?.indent === indent;
    const parents = this.open.filter((entry) => entry.indent < indent).map((entry) => entry.name);
    if (closesOwn) this.open.pop();
    if (!result[1]) return;
    const path = [...parents, name];
    const inner = this.failures.some(
      (failure) =>
        failure.path.length > path.length && path.every((part, i) => failure.path[i] === part),
    );
    if (inner) return;
    const failure: Failure = { path, diagnostic: [] };
    this.failures.push(failure);
    this.diagnostic = { indent, lines: failure.diagnostic };
  }

  /** Forgets the subtests opened deeper than `indent`: their output has ended. */
  private close(indent: number): void {
    while ((this.open.at(-1)?.indent ?? -1) > indent) this.open.pop();
  }
}

/** The failures as the runner prints them, at most `limit` (the rest counted). */
export function failureReport(failures: readonly Failure[], limit = 10): string {
  if (failures.length === 0) return '';
  const shown = failures
    .slice(0, limit)
    .map((failure) =>
      [
        `not ok: ${failure.path.join(' > ')}`,
        ...failure.diagnostic.filter((line) => line !== '---').map((line) => `    ${line}`),
      ].join('\n'),
    );
  const more = failures.length > limit ? [`… and ${failures.length - limit} more`] : [];
  return [`# failed tests (${failures.length})`, ...shown, ...more, ''].join('\n');
}
