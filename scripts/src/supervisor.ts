import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { Readable } from 'node:stream';

export interface ChildSpec {
  /** Shown in front of every output line, padded to the supervisor's prefix width. */
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface BackoffPolicy {
  /** Delay before the first restart after a crash. */
  initialMs: number;
  /** The delay doubles on each consecutive crash up to this ceiling. */
  maxMs: number;
  /** A child that stayed up this long is healthy again: its next crash restarts after `initialMs`. */
  resetAfterMs: number;
}

export const defaultBackoff: BackoffPolicy = {
  initialMs: 500,
  maxMs: 15_000,
  resetAfterMs: 30_000,
};

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type SupervisorEvent =
  | { type: 'spawned'; name: string; pid: number; attempt: number }
  | { type: 'spawn-failed'; name: string; message: string }
  | { type: 'exited'; name: string; pid: number; exit: ChildExit; uptimeMs: number }
  | { type: 'restarting'; name: string; delayMs: number }
  | { type: 'gave-up'; name: string; exit: ChildExit };

/** Schedules and cancels the delayed restarts. */
export interface RestartTimers {
  set(restart: () => void, delayMs: number): unknown;
  clear(handle: unknown): void;
}

const realTimers: RestartTimers = {
  set: (restart, delayMs) => setTimeout(restart, delayMs),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

export interface SupervisorOptions {
  /** Receives whole prefixed lines, newline included. Defaults to the process's stdout. */
  write?: (text: string) => void;
  /** Width the names are padded to, so the columns line up. Defaults to the longest name seen. */
  prefixWidth?: number;
  /** Colour the prefixes (ANSI). Defaults to off. */
  color?: boolean;
  backoff?: Partial<BackoffPolicy>;
  /** How long `stopAll` waits after SIGTERM before it sends SIGKILL. */
  stopTimeoutMs?: number;
  /** Whether an unexpected exit deserves a restart; a configuration error (exit 2) never heals. */
  shouldRestart?: (name: string, exit: ChildExit) => boolean;
  onEvent?: (event: SupervisorEvent) => void;
  /** The clock restarts wait on; tests pass timers they fire themselves. Defaults to setTimeout. */
  timers?: RestartTimers;
}

const palette = [36, 35, 33, 32, 34, 91, 96, 95, 93, 92];

/** One supervised program: whichever process currently runs it, and its crash history. */
export class SupervisedChild {
  /** The running process's id, undefined between a crash and its restart. */
  pid: number | undefined;
  /** How many times the program was (re)started, the first start included. */
  starts = 0;
  /** Consecutive crashes since the child last stayed up `resetAfterMs`. */
  crashes = 0;
  /** Set when the supervisor stopped restarting it (a `shouldRestart` veto). */
  gaveUp: ChildExit | undefined;
  process: ChildProcess | undefined;
  restartTimer: unknown;
  startedAt = 0;
  constructor(readonly spec: ChildSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get running(): boolean {
    return this.process !== undefined;
  }
}

/**
 * Runs child processes the way a process manager does on a developer machine: every output line is
 * prefixed with the child's name, a child that dies is restarted after an exponentially growing
 * delay, and `stopAll` asks every child to stop (SIGTERM), then kills what is left at a deadline.
 *
 * Each child leads its own process group, so a Ctrl-C in the terminal reaches only the supervisor,
 * which then stops the children in its own way; signals go to the whole group so that anything a
 * child started goes with it.
 */
export class Supervisor {
  private readonly children = new Map<string, SupervisedChild>();
  private readonly write: (text: string) => void;
  private readonly backoff: BackoffPolicy;
  private readonly stopTimeoutMs: number;
  private readonly colors = new Map<string, number>();
  private readonly timers: RestartTimers;
  private width: number;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: SupervisorOptions = {}) {
    this.write = options.write ?? ((text) => void process.stdout.write(text));
    this.backoff = { ...defaultBackoff, ...options.backoff };
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.width = options.prefixWidth ?? 0;
    this.timers = options.timers ?? realTimers;
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  child(name: string): SupervisedChild | undefined {
    return this.children.get(name);
  }

  /** Starts a program and keeps it running until `stopAll`. */
  start(spec: ChildSpec): SupervisedChild {
    if (this.stopping) throw new Error(`cannot start ${spec.name}: the supervisor is stopping`);
    if (this.children.has(spec.name)) throw new Error(`${spec.name} is already supervised`);
    const child = new SupervisedChild(spec);
    this.children.set(spec.name, child);
    this.spawn(child);
    return child;
  }

  /** Writes one line under `name`'s prefix (for the launcher's own lines, or a library's logs). */
  line(name: string, text: string): void {
    this.write(`${this.prefix(name)}${text}\n`);
  }

  /** The restart delay after `crashes` consecutive crashes (1 for the first). */
  delayFor(crashes: number): number {
    return Math.min(this.backoff.initialMs * 2 ** Math.max(0, crashes - 1), this.backoff.maxMs);
  }

  /**
   * Stops every child: SIGTERM to each at once, SIGKILL to whatever is still alive after
   * `stopTimeoutMs`, and resolves once every child has exited. Pending restarts are cancelled.
   * Calling it again returns the same promise.
   */
  stopAll(): Promise<void> {
    this.stopping ??= this.stopEverything();
    return this.stopping;
  }

  /**
   * Signals every running child at once without waiting: for a launcher that is exiting anyway.
   * Cancels pending restarts and stops any further ones.
   */
  killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.stopping ??= Promise.resolve();
    for (const child of this.children.values()) {
      this.timers.clear(child.restartTimer);
      child.restartTimer = undefined;
      if (child.process) signalGroup(child.process, signal);
    }
  }

  private async stopEverything(): Promise<void> {
    const running: Array<Promise<void>> = [];
    for (const child of this.children.values()) {
      this.timers.clear(child.restartTimer);
      child.restartTimer = undefined;
      const proc = child.process;
      if (!proc) continue;
      running.push(new Promise((resolve) => proc.once('close', () => resolve())));
      signalGroup(proc, 'SIGTERM');
    }
    if (running.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.stopTimeoutMs);
    });
    const outcome = await Promise.race([Promise.all(running), deadline]);
    clearTimeout(timer);
    if (outcome === 'late') {
      for (const child of this.children.values()) {
        if (child.process) {
          this.line(child.name, `did not stop within ${this.stopTimeoutMs} ms: killing it`);
          signalGroup(child.process, 'SIGKILL');
        }
      }
      await Promise.all(running);
    }
  }

  private spawn(child: SupervisedChild): void {
    const { spec } = child;
    child.starts += 1;
    const proc = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.process = proc;
    child.startedAt = Date.now();
    const closed = Promise.all([
      this.pipe(spec.name, proc.stdout),
      this.pipe(spec.name, proc.stderr),
    ]);

    proc.on('error', (error) => {
      // Only a failed spawn (a missing binary, a bad cwd) gets here: no 'spawn' event will come.
      if (proc.pid !== undefined) return;
      this.emit({ type: 'spawn-failed', name: spec.name, message: error.message });
    });
    proc.once('spawn', () => {
      child.pid = proc.pid;
      this.emit({ type: 'spawned', name: spec.name, pid: proc.pid!, attempt: child.starts });
    });
    proc.once('close', (code, signal) => {
      void closed.then(() => this.exited(child, proc, { code, signal }));
    });
  }

  private exited(child: SupervisedChild, proc: ChildProcess, exit: ChildExit): void {
    const uptimeMs = Date.now() - child.startedAt;
    child.process = undefined;
    child.pid = undefined;
    if (proc.pid !== undefined) {
      this.emit({ type: 'exited', name: child.name, pid: proc.pid, exit, uptimeMs });
    }
    if (this.stopping) return;
    if (this.options.shouldRestart && !this.options.shouldRestart(child.name, exit)) {
      child.gaveUp = exit;
      this.emit({ type: 'gave-up', name: child.name, exit });
      return;
    }
    child.crashes = uptimeMs >= this.backoff.resetAfterMs ? 1 : child.crashes + 1;
    const delayMs = this.delayFor(child.crashes);
    this.emit({ type: 'restarting', name: child.name, delayMs });
    child.restartTimer = this.timers.set(() => {
      child.restartTimer = undefined;
      if (!this.stopping) this.spawn(child);
    }, delayMs);
  }

  private pipe(name: string, stream: Readable | null): Promise<void> {
    if (!stream) return Promise.resolve();
    const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (text) => this.line(name, text));
    return new Promise((resolve) => lines.once('close', resolve));
  }

  private prefix(name: string): string {
    this.width = Math.max(this.width, name.length);
    const label = `${name.padEnd(this.width)} | `;
    if (!this.options.color) return label;
    let color = this.colors.get(name);
    if (color === undefined) {
      color = palette[this.colors.size % palette.length]!;
      this.colors.set(name, color);
    }
    return `\u001b[${color}m${label}\u001b[0m`;
  }

  private emit(event: SupervisorEvent): void {
    this.options.onEvent?.(event);
  }
}

/** Signals the child's process group (it leads one, being detached), or the child alone as a fallback. */
function signalGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    try {
      proc.kill(signal);
    } catch {
      // Already gone.
    }
  }
}
