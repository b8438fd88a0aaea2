import { readFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { machineBusyMicros } from './broker.js';
import { toolVersion } from './ceilings.js';
import type { Machine } from './report.js';
import type { BenchSystem } from './system.js';

/** The machine the figures were measured on, for the report's first lines. */
export async function describeMachine(system: BenchSystem): Promise<Machine> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    os: `${osName()} (Linux ${os.release()})`,
    node: process.version,
    postgres: await postgresVersion(system),
    nginx: toolVersion('nginx', ['-v']),
    tools: { wrk: toolVersion('wrk', ['-v']) },
  };
}

function osName(): string {
  try {
    const release = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(release)?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

async function postgresVersion(system: BenchSystem): Promise<string> {
  const client = new pg.Client({ connectionString: system.databaseUrl('postgres') });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('show server_version');
    return rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}

/**
 * CPU seconds this process and every child it has waited for have used (/proc/self/stat: utime,
 * stime, cutime, cstime; Linux). Read once everything the run started has exited, it counts all
 * of the run's processes: the services, Postgres, the load generators, nginx, Chromium.
 */
function ownTreeSeconds(): number {
  try {
    const text = readFileSync('/proc/self/stat', 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0);
    return ticks / 100; // USER_HZ
  } catch {
    return Number.NaN;
  }
}

/**
 * How much of the machine other processes used over the run: every core's busy time minus the
 * run's own (ownTreeSeconds), as a share of all cores over the wall time. Call `stop` once the
 * run's processes have all exited.
 */
export function watchOtherProcesses(): { stop(): number } {
  const machineBefore = machineBusyMicros();
  const ownBefore = ownTreeSeconds();
  const started = performance.now();
  return {
    stop() {
      const wallSeconds = (performance.now() - started) / 1000;
      const machineSeconds = (machineBusyMicros() - machineBefore) / 1e6;
      const others = machineSeconds - (ownTreeSeconds() - ownBefore);
      return Math.max(0, others / (wallSeconds * os.cpus().length));
    },
  };
}
