import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { isAlive } from './local-state.js';

/**
 * What running the embedded Postgres as root takes. Postgres refuses to run as root, so its
 * binaries run as the `postgres` user, which must reach them and its data directory. A checkout
 * in a folder other users cannot enter (root's own home is 0700, so is a `mktemp -d` folder) hides
 * both, so the binaries are copied and the data directory is kept under `/var/lib/mercado`, owned
 * by root and open to reading, in place of opening the user's folders to anyone:
 *
 *   /var/lib/mercado/postgres-<version>-<platform>-<arch>/   the binaries (bin, lib, share)
 *   /var/lib/mercado/clusters/<id>/owner                     the data directory's path
 *   /var/lib/mercado/clusters/<id>/data/                     the cluster, owned by postgres
 *
 * and the data directory itself (`.mercado/postgres`) is a symbolic link to that `data/`. A cluster
 * whose link is gone (`.mercado/` deleted, a temporary checkout removed) is deleted on the next
 * start, unless its server still runs.
 */

export const rootStateDirectory = '/var/lib/mercado';
const clustersDirectory = path.join(rootStateDirectory, 'clusters');

export interface PostgresUser {
  uid: number;
  gid: number;
}

export interface PostgresBinaries {
  /** The package's `native/` folder: `bin/`, `lib/`, `share/`. */
  native: string;
  initdb: string;
  postgres: string;
  /** The binaries package's version, which names their copy. */
  version: string;
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The `postgres` user's ids, creating the user (a system account, no home) when it is missing. */
export function ensurePostgresUser(): PostgresUser {
  const found = lookUp('passwd', 'postgres');
  if (found) return { uid: Number(found[2]), gid: Number(found[3]) };
  const hasGroup = lookUp('group', 'postgres') !== undefined;
  try {
    execFileSync(
      'useradd',
      [
        '--system',
        '--no-create-home',
        '--shell',
        '/usr/sbin/nologin',
        ...(hasGroup ? ['--gid', 'postgres'] : ['--user-group']),
        'postgres',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (error) {
    throw new Error(
      `Postgres cannot run as root and there is no postgres user; creating one failed (${oneLine(error)})`,
      { cause: error },
    );
  }
  const created = lookUp('passwd', 'postgres');
  if (!created) throw new Error('the postgres user was created but cannot be found');
  return { uid: Number(created[2]), gid: Number(created[3]) };
}

function lookUp(database: 'passwd' | 'group', name: string): string[] | undefined {
  const result = spawnSync('getent', [database, name], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim().split(':') : undefined;
}

/**
 * Whether `user` can reach `file` (search every folder on the way, and execute it): asked of the
 * system itself, by a `test -x` run as that user, the way Postgres will run (no extra groups).
 */
export function canReach(user: PostgresUser, file: string): boolean {
  const result = spawnSync('test', ['-x', file], {
    uid: user.uid,
    gid: user.gid,
    cwd: '/',
    stdio: 'ignore',
  });
  return result.status === 0;
}

/**
 * The binaries where `user` can run them: in place when it can, otherwise a copy under
 * /var/lib/mercado, made once per version (without the static libraries) and reused.
 */
export async function reachableBinaries(
  user: PostgresUser,
  binaries: PostgresBinaries,
): Promise<PostgresBinaries> {
  if (canReach(user, binaries.initdb) && canReach(user, binaries.postgres)) return binaries;
  const target = path.join(
    rootStateDirectory,
    `postgres-${binaries.version}-${process.platform}-${process.arch}`,
  );
  const relocated: PostgresBinaries = {
    native: target,
    initdb: path.join(target, 'bin', path.basename(binaries.initdb)),
    postgres: path.join(target, 'bin', path.basename(binaries.postgres)),
    version: binaries.version,
  };
  if (!existsSync(relocated.postgres)) {
    await openDirectory(rootStateDirectory);
    // Copied aside, then renamed into place: a copy cut short is never taken for a whole one.
    const staging = await mkdtemp(`${target}.partial-`);
    try {
      await cp(binaries.native, staging, {
        recursive: true,
        verbatimSymlinks: true,
        filter: (source) => !source.endsWith('.a'),
      });
      await chmod(staging, 0o755);
      await rename(staging, target);
    } catch (error) {
      await rm(staging, { recursive: true, force: true });
      // Another launcher made the same copy first.
      if (!existsSync(relocated.postgres)) throw error;
    }
  }
  if (!canReach(user, relocated.postgres)) {
    throw new Error(`the postgres user cannot run ${relocated.postgres}`);
  }
  return relocated;
}

/**
 * Where the cluster of `dataDir` really lives, ready for initdb or a start: `dataDir` itself,
 * owned by `user`, when `user` can reach its parent; otherwise a folder under
 * /var/lib/mercado/clusters that `dataDir` links to (see the top of this file).
 */
export async function placeCluster(user: PostgresUser, dataDir: string): Promise<string> {
  const parent = path.dirname(dataDir);
  await mkdir(parent, { recursive: true });
  const home = clusterHome(dataDir);
  await sweepOrphanClusters(home);

  const existing = await lstat(dataDir).catch(() => undefined);
  if (existing?.isSymbolicLink()) {
    const target = path.resolve(parent, await readlink(dataDir));
    if (existsSync(target)) return target;
    await rm(dataDir); // its cluster was deleted: start afresh
  } else if (canReach(user, parent)) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await chown(dataDir, user.uid, user.gid);
    return dataDir;
  } else if (existing) {
    if (existsSync(path.join(dataDir, 'PG_VERSION'))) {
      throw new Error(
        `the postgres user cannot reach the cluster in ${dataDir} (a folder above it is closed to ` +
          'other users): move it to a folder others can enter, or delete it to start afresh',
      );
    }
    await rm(dataDir, { recursive: true, force: true }); // left by a run that could not initialise it
  }

  // A cluster left at this place by a data directory of the same path that was deleted is not ours.
  await rm(home, { recursive: true, force: true });
  // Made aside (a sweep passes over dot-names) and linked before it is moved into place, so that
  // a sweep by another launcher never finds it unlinked.
  await openDirectory(clustersDirectory);
  const staging = await mkdtemp(path.join(clustersDirectory, `.new-${path.basename(home)}-`));
  await chmod(staging, 0o755);
  await writeFile(path.join(staging, 'owner'), `${dataDir}\n`);
  await mkdir(path.join(staging, 'data'), { mode: 0o700 });
  await chown(path.join(staging, 'data'), user.uid, user.gid);
  const data = path.join(home, 'data');
  await symlink(data, dataDir);
  await rename(staging, home);
  return data;
}

/** Deletes a data directory, and its cluster under /var/lib/mercado when it links there. */
export async function removeCluster(dataDir: string): Promise<void> {
  const existing = await lstat(dataDir).catch(() => undefined);
  if (existing?.isSymbolicLink()) {
    const target = path.resolve(path.dirname(dataDir), await readlink(dataDir));
    if (path.dirname(path.dirname(target)) === clustersDirectory) {
      await rm(path.dirname(target), { recursive: true, force: true });
    }
  }
  await rm(dataDir, { recursive: true, force: true });
}

/** The cluster folder for a data directory: one per path, so a restart finds it again. */
function clusterHome(dataDir: string): string {
  const id = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16);
  return path.join(clustersDirectory, id);
}

/** Deletes every cluster (but `keep`) no data directory links to any more, unless it still runs. */
async function sweepOrphanClusters(keep: string): Promise<void> {
  const entries = await readdir(clustersDirectory).catch(() => [] as string[]);
  for (const entry of entries) {
    const home = path.join(clustersDirectory, entry);
    if (home === keep || entry.startsWith('.')) continue;
    const data = path.join(home, 'data');
    const owner = (await readFile(path.join(home, 'owner'), 'utf8').catch(() => '')).trim();
    const linked = owner
      ? await readlink(owner)
          .then((target) => path.resolve(path.dirname(owner), target) === data)
          .catch(() => false)
      : false;
    if (linked) continue;
    const pid = Number.parseInt(
      (await readFile(path.join(data, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]!,
      10,
    );
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
    await rm(home, { recursive: true, force: true });
  }
}

/** A root-owned folder every user may enter and read, whatever root's umask. */
async function openDirectory(directory: string): Promise<void> {
  await mkdir(directory, { recursive: true });
  for (
    let folder = directory;
    folder.startsWith(rootStateDirectory);
    folder = path.dirname(folder)
  ) {
    await chmod(folder, 0o755);
  }
}

function oneLine(error: unknown): string {
  const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
  return stderr || (error instanceof Error ? error.message : String(error));
}
