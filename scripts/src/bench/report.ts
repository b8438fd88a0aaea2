/**
 * The benchmark report (`npm run bench` writes it to docs/benchmarks.md): every figure beside the
 * ceiling it is compared with, both measured in the same run, and the ratio between them. Pure:
 * the benchmarks hand it rows (`report.add`), bench.ts hands it the machine, and `render` gives
 * the markdown — so a new section (the checkout through nginx in the topology, say) is one call.
 */

/** What one measured run gives: a rate, latency percentiles (ms), errors. */
export interface Measurement {
  /** Per second, in `unit`; NaN or undefined where the run has no rate (page loads). */
  rps?: number;
  p50?: number;
  p99?: number;
  errors?: number;
}

/** A reference measured in the same run: the most this machine gives the figures above it. */
export interface Ceiling extends Measurement {
  name: string;
  /** `req/s` unless said: `rt/s` (round trips), `inserts/s`, `msg/s`… */
  unit?: string;
}

export interface ReportFigure extends Measurement {
  label: string;
  /** `req/s` unless said: `payments/s`, `checkouts/s`… */
  unit?: string;
  /**
   * What the ratio compares. `rate` (the default): the figure's rate as a share of the ceiling's
   * — for runs that go as fast as they can. `p99`: the figure's p99 as a multiple of the
   * ceiling's — for runs at a fixed offered rate, where the rate is what was asked for.
   */
  compare?: 'rate' | 'p99';
  /** Its own ceiling, when not the section's; `null`: none (a reference row). */
  ceiling?: Ceiling | null;
}

export interface ReportSection {
  /** The heading: one benchmark, or one part of one. */
  group: string;
  /** One line under the heading: what was measured, and how. */
  label?: string;
  figures: ReportFigure[];
  /** The ceiling every figure is compared with unless it names its own. */
  ceiling?: Ceiling;
  /** Lines printed under the table (what the run also said). */
  notes?: string[];
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryBytes: number;
  os: string;
  node: string;
  postgres: string;
  nginx: string;
  /** Other tools whose version the figures depend on (wrk, Chromium). */
  tools?: Record<string, string>;
}

export interface RunFacts {
  machine: Machine;
  /** When the run started. */
  startedAt: Date;
  totalSeconds: number;
  benchSeconds: number;
  /** The warm-up before each HTTP measurement (BENCH_WARMUP). */
  warmupSeconds?: number;
  /** How long each benchmark took, in the order they ran. */
  steps?: Array<{ name: string; seconds: number }>;
  /** Share of the machine's cores (0–1 of all of them) other processes used during the run. */
  othersCpuShare?: number;
  /** BENCH_NOTE: what the person who ran it says about the machine (shared, quiet). */
  note?: string;
  /** Every origin the run opened: each one is 127.0.0.1 (bench/loopback.ts asserts it). */
  origins?: number;
}

/** A ceiling measured for figures to come (nginx static, for the topology): what it is for. */
export interface StandingCeiling {
  ceiling: Ceiling;
  of: string;
}

export interface Report {
  add(section: ReportSection): void;
  /** A ceiling no figure of this run uses yet, listed with the others. */
  addCeiling(ceiling: Ceiling, of: string): void;
  render(facts: RunFacts): string;
}

export function createReport(): Report {
  const sections: ReportSection[] = [];
  const standing: StandingCeiling[] = [];
  return {
    add(section) {
      sections.push(section);
    },
    addCeiling(ceiling, of) {
      standing.push({ ceiling, of });
    },
    render: (facts) => renderReport(facts, sections, standing),
  };
}

const gib = 1024 ** 3;

export function machineLine(machine: Machine): string {
  const tools = Object.entries(machine.tools ?? {}).map(([name, version]) => `${name} ${version}`);
  return [
    `${machine.cores} × ${machine.cpu}`,
    `${(machine.memoryBytes / gib).toFixed(1)} GiB memory`,
    machine.os,
    `Node ${machine.node}`,
    `PostgreSQL ${machine.postgres}`,
    `nginx ${machine.nginx}`,
    ...tools,
  ].join(', ');
}

const finite = (value: number | undefined | null): value is number =>
  typeof value === 'number' && Number.isFinite(value);

/** 6017.4 → "6,017"; 12.34 → "12.3"; below 10 one decimal, so 4.2 rt/s is not "4". */
export function formatRate(value: number | undefined, unit = 'req/s'): string {
  if (!finite(value)) return '–';
  const digits = value < 10 ? 1 : 0;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`;
}

export function formatMs(value: number | undefined): string {
  if (!finite(value)) return '–';
  return value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0);
}

/** The figure against its ceiling: "96%" of its rate, or "p99 ×3.1" of its p99. */
export function ratio(figure: ReportFigure, ceiling: Ceiling | undefined): string {
  if (!ceiling) return '';
  if ((figure.compare ?? 'rate') === 'p99') {
    if (!finite(figure.p99) || !finite(ceiling.p99) || ceiling.p99 <= 0) return '–';
    const multiple = figure.p99 / ceiling.p99;
    const digits = multiple < 10 ? 1 : 0;
    return `p99 ×${multiple.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })}`;
  }
  if (!finite(figure.rps) || !finite(ceiling.rps) || ceiling.rps <= 0) return '–';
  const share = (figure.rps / ceiling.rps) * 100;
  return `${share < 10 ? share.toFixed(1) : share.toFixed(0)}%`;
}

function ceilingCell(ceiling: Ceiling | undefined): string {
  if (!ceiling) return '';
  const parts = finite(ceiling.rps) ? [formatRate(ceiling.rps, ceiling.unit)] : [];
  if (finite(ceiling.p99)) parts.push(`p99 ${formatMs(ceiling.p99)} ms`);
  return `${ceiling.name}: ${parts.join(', ')}`;
}

/** A Markdown table cell: pipes escaped, line breaks flattened. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

/** A Markdown table, its columns padded as Prettier lays them out (so `prettier --check` passes). */
function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows].map((row) => row.map(cell));
  const widths = header.map((_, column) =>
    Math.max(3, ...all.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: string[]) =>
    `| ${widths.map((width, column) => (row[column] ?? '').padEnd(width)).join(' | ')} |`;
  return [
    line(all[0]!),
    `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`,
    ...all.slice(1).map(line),
  ];
}

function ceilingOf(section: ReportSection, figure: ReportFigure): Ceiling | undefined {
  return figure.ceiling === null ? undefined : (figure.ceiling ?? section.ceiling);
}

/** Every distinct ceiling of the sections, in the order first used, with where it was used. */
function ceilingsUsed(sections: readonly ReportSection[], standing: readonly StandingCeiling[]) {
  const used = new Map<Ceiling, string[]>(standing.map(({ ceiling, of }) => [ceiling, [of]]));
  for (const section of sections) {
    for (const figure of section.figures) {
      const ceiling = ceilingOf(section, figure);
      if (!ceiling) continue;
      const groups = used.get(ceiling) ?? [];
      if (!groups.includes(section.group)) groups.push(section.group);
      used.set(ceiling, groups);
    }
  }
  return used;
}

export function renderReport(
  facts: RunFacts,
  sections: readonly ReportSection[],
  standing: readonly StandingCeiling[] = [],
): string {
  const lines: string[] = [
    '# Benchmarks',
    '',
    '<!-- Written by `npm run bench` (scripts/src/bench.ts); run it again rather than edit this. -->',
    '',
    `Measured ${facts.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench\`, ` +
      `${facts.benchSeconds} s per measurement (BENCH_SECONDS) after ` +
      (facts.warmupSeconds === undefined
        ? 'its warm-up, '
        : `a ${facts.warmupSeconds} s warm-up (BENCH_WARMUP), `) +
      `${formatDuration(facts.totalSeconds)} in all.`,
    '',
    `Machine: ${machineLine(facts.machine)}.`,
  ];
  const load: string[] = [];
  if (finite(facts.othersCpuShare)) {
    load.push(
      `Other processes on the machine used ${(facts.othersCpuShare * 100).toFixed(0)}% of its ` +
        `${facts.machine.cores} cores over the run` +
        (facts.othersCpuShare > 0.1
          ? ' (a shared machine: the figures are lower and noisier)'
          : ''),
    );
  }
  if (facts.note) load.push(facts.note);
  if (load.length > 0) lines.push('', `${load.join('. ')}.`);
  if (facts.origins !== undefined) {
    lines.push(
      '',
      `Traffic: every URL the run opened (${facts.origins} origins) was on 127.0.0.1, asserted ` +
        'before each was opened.',
    );
  }
  lines.push(
    '',
    'Each figure stands beside a ceiling measured in the same run: the most this machine gives ' +
      'that kind of work with none of Mercado in the way. The ratio is the figure’s rate as a ' +
      'share of the ceiling’s for runs that go as fast as they can, and its p99 as a multiple of ' +
      'the ceiling’s (`p99 ×n`) for runs at a fixed offered rate, where the rate is the one asked ' +
      'for. Figures only: nothing here passes or fails.',
  );

  const used = ceilingsUsed(sections, standing);
  if (used.size > 0) {
    lines.push('', '## Ceilings', '');
    lines.push(
      ...table(
        ['ceiling', 'rate', 'p50 ms', 'p99 ms', 'errors', 'ceiling of'],
        [...used].map(([ceiling, groups]) => [
          ceiling.name,
          formatRate(ceiling.rps, ceiling.unit),
          formatMs(ceiling.p50),
          formatMs(ceiling.p99),
          finite(ceiling.errors) ? String(ceiling.errors) : '–',
          groups.join('; '),
        ]),
      ),
    );
  }

  for (const section of sections) {
    lines.push('', `## ${section.group}`, '');
    if (section.label) lines.push(section.label, '');
    lines.push(
      ...table(
        ['figure', 'rate', 'p50 ms', 'p99 ms', 'errors', 'ceiling (same run)', 'ratio'],
        section.figures.map((figure) => {
          const ceiling = ceilingOf(section, figure);
          return [
            figure.label,
            formatRate(figure.rps, figure.unit),
            formatMs(figure.p50),
            formatMs(figure.p99),
            finite(figure.errors) ? String(figure.errors) : '–',
            ceilingCell(ceiling),
            ratio(figure, ceiling),
          ];
        }),
      ),
    );
    if (section.notes?.length) lines.push('', ...section.notes.map((note) => `- ${note}`));
  }

  if (facts.steps?.length) {
    lines.push('', '## Time', '');
    lines.push(
      ...table(
        ['step', 'took'],
        [
          ...facts.steps.map((step) => [step.name, formatDuration(step.seconds)]),
          ['total', formatDuration(facts.totalSeconds)],
        ],
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** 75 → "1 min 15 s"; 42.4 → "42 s". */
export function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  const minutes = Math.floor(whole / 60);
  return minutes > 0 ? `${minutes} min ${whole % 60} s` : `${whole} s`;
}
