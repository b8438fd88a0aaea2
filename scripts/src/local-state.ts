import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is compiled to scripts/dist/, and run from scripts/src/ in tests). */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Where a local installation keeps its database, secrets and state: `.mercado/` unless overridden. */
export function dataDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(repoRoot, env.MERCADO_DATA_DIR || '.mercado');
}

/** Shown to people: the path relative to the current directory when it is inside it. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** Non-secret facts a later run must find again, such as the embedded Postgres port. */
export interface LocalState {
  postgresPort?: number;
}

const stateFile = (dataDir: string) => path.join(dataDir, 'state.json');

export async function readState(dataDir: string): Promise<LocalState> {
  try {
    return JSON.parse(await readFile(stateFile(dataDir), 'utf8')) as LocalState;
  } catch {
    return {};
  }
}

export async function writeState(dataDir: string, state: LocalState): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  await writeFile(stateFile(dataDir), `${JSON.stringify(state, null, 2)}\n`);
}

/** Whether a process with this id exists (EPERM means it does, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Polls until the process is gone; resolves false if it is still alive at the deadline. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

const lockFile = (dataDir: string) => path.join(dataDir, 'launcher.pid');

/** The pid of a launcher that is running on this data directory, if any. */
export async function runningLauncher(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(lockFile(dataDir), 'utf8'), 10);
    return Number.isInteger(pid) && pid !== process.pid && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export class AlreadyRunningError extends Error {
  constructor(
    readonly pid: number,
    dataDir: string,
  ) {
    super(
      `Mercado is already running on ${displayPath(dataDir)} (launcher pid ${pid}): ` +
        `stop it first (Ctrl-C in its terminal, or kill ${pid})`,
    );
    this.name = 'AlreadyRunningError';
  }
}

/**
 * Marks the data directory as in use by this process, refusing when another live launcher holds it
 * (two launchers would fight over one Postgres data directory). A lock left by a launcher that died
 * is taken over.
 */
export async function acquireLauncherLock(dataDir: string): Promise<{ release(): Promise<void> }> {
  const other = await runningLauncher(dataDir);
  if (other !== undefined) throw new AlreadyRunningError(other, dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  await writeFile(lockFile(dataDir), `${process.pid}\n`);
  return {
    async release() {
      await rm(lockFile(dataDir), { force: true });
    },
  };
}
