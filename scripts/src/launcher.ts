import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  freePort,
  openDatabaseServer,
  isPortFree,
  postgresDirectoryName,
  type DatabaseServer,
} from './database-server.js';
import { loadOrCreateSecrets, secretsFileName } from './local-secrets.js';
import { acquireLauncherLock, dataDirectory, displayPath, repoRoot } from './local-state.js';
import { databaseUrl, ensureDatabases } from './postgres.js';
import { localRegions, outputNames, processes, type ProcessEntry } from './processes.js';
import { loadDemoData } from './demo/load.js';
import { Supervisor, type SupervisedChild, type SupervisorEvent } from './supervisor.js';

/**
 * The launcher behind `npm start` (through start.ts): the whole shop on one machine, without Docker.
 * Starts (or reuses) the embedded Postgres, makes each service's database, starts every entry of
 * `processes.ts` in order, each only once the one before it is ready, and keeps them running until
 * SIGINT or SIGTERM, which stops them all, Postgres last. Run by start.ts, it also stops when
 * start.ts goes away, however that happens.
 */

const internalHost = '127.0.0.1';
const readyTimeoutMs = 60_000;
/** By convention (services/common runMain) a process exits 2 on invalid configuration: no retry heals that. */
const configurationErrorCode = 2;
/** Launcher settings that must not leak into the children, which read the same names differently. */
const launcherOnly = new Set(['DATABASE_URL', 'PORT', 'HOST']);

class StartupCancelled extends Error {}

async function main(): Promise<void> {
  const env = process.env;
  const dataDir = dataDirectory(env);
  const verbose = env.LOG_LEVEL === 'debug' || env.LOG_LEVEL === 'trace';
  const color =
    (env.MERCADO_COLOR ? env.MERCADO_COLOR === '1' : Boolean(process.stdout.isTTY)) &&
    !env.NO_COLOR;

  let startupDone = false;
  const supervisor = new Supervisor({
    color,
    prefixWidth: Math.max(...outputNames.map((name) => name.length)),
    shouldRestart: (_name, exit) => exit.code !== configurationErrorCode,
    onEvent: (event) => report(event),
  });
  const say = (text: string) => supervisor.line('mercado', text);

  let database: DatabaseServer | undefined;
  let releaseLock: (() => Promise<void>) | undefined;
  let stopping: Promise<void> | undefined;
  let watchdog: NodeJS.Timeout | undefined;

  const shutdown = (code: number, reason?: string): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(watchdog);
      if (reason) say(reason);
      say('stopping every process');
      await supervisor.stopAll();
      if (database?.kind === 'embedded') {
        say('stopping Postgres');
        await database.stop();
      }
      await releaseLock?.();
      say(code === 0 ? 'stopped' : 'stopped after an error');
      process.exit(code);
    })();
    return stopping;
  };

  function report(event: SupervisorEvent): void {
    switch (event.type) {
      case 'spawned':
        say(`${event.name} ${event.attempt === 1 ? 'started' : 'restarted'} (pid ${event.pid})`);
        break;
      case 'spawn-failed':
        say(`${event.name} could not be started: ${event.message}`);
        break;
      case 'exited': {
        const how = event.exit.signal ? `signal ${event.exit.signal}` : `code ${event.exit.code}`;
        say(
          supervisor.isStopping
            ? `${event.name} stopped (pid ${event.pid}, ${how})`
            : `${event.name} exited unexpectedly (pid ${event.pid}, ${how}) after ${seconds(event.uptimeMs)}`,
        );
        break;
      }
      case 'restarting':
        say(`restarting ${event.name} in ${seconds(event.delayMs)}`);
        break;
      case 'gave-up':
        say(
          `${event.name} reported an invalid configuration (exit ${event.exit.code}): not restarting it`,
        );
        if (startupDone) void shutdown(1, `${event.name} cannot run`);
        break;
    }
  }

  handleShutdownSignals(shutdown, () => {
    say('forced stop: killing every process');
    supervisor.killAll();
    process.exit(1);
  });
  // Whatever else fails, in the launcher or in a library it uses, ends it the same way as any
  // start-up failure: one line saying why, and every process stopped.
  function onUnexpected(error: unknown): void {
    const what = startupDone ? 'stopping after an unexpected error' : 'cannot start';
    void shutdown(1, `${what}: ${messageOf(error)}`);
  }
  process.on('uncaughtException', onUnexpected);
  process.on('unhandledRejection', onUnexpected);
  // Should the launcher itself fail, its children must not outlive it.
  process.on('exit', () => supervisor.killAll('SIGTERM'));
  // Started by start.ts over an IPC channel: the channel closes when start.ts dies, even by SIGKILL.
  process.on('disconnect', () => void shutdown(0, 'the terminal side of the launcher went away'));
  // Nor may a closed output (start.ts gone) crash the shutdown: there is just no one left to tell.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});

  try {
    for (const entry of processes) {
      if (!existsSync(path.join(repoRoot, entry.entry))) {
        throw new Error(
          `${entry.entry} is missing: build first (\`npm run build\`; \`npm start\` does it)`,
        );
      }
    }
    releaseLock = (await acquireLauncherLock(dataDir)).release;

    const publicPort = parsePort(env.PORT ?? '8080', 'PORT');
    if (!(await isPortFree(publicPort, internalHost))) {
      throw new Error(
        `port ${publicPort} on ${internalHost} is already in use: stop what holds it, ` +
          `or pick another port, e.g. PORT=${publicPort === 8080 ? 8081 : 8080} npm start`,
      );
    }
    const publicUrl = `http://${internalHost}:${publicPort}`;
    // Terminals and services reach the broker on a known port, so it is not a free one.
    const mqttPort = parsePort(env.MQTT_PORT ?? '1883', 'MQTT_PORT');
    if (!(await isPortFree(mqttPort, internalHost))) {
      throw new Error(
        `port ${mqttPort} on ${internalHost} (MQTT) is already in use: stop what holds it ` +
          `(another broker?), or pick another port, e.g. MQTT_PORT=${mqttPort === 1883 ? 1884 : 1883} npm start`,
      );
    }
    const mqttUrl = `mqtt://${internalHost}:${mqttPort}`;

    const secretsFile = path.join(dataDir, secretsFileName);
    if (
      !env.DATABASE_URL &&
      !existsSync(secretsFile) &&
      existsSync(path.join(dataDir, postgresDirectoryName, 'PG_VERSION'))
    ) {
      throw new Error(
        `${displayPath(path.join(dataDir, postgresDirectoryName))} exists but ${displayPath(secretsFile)} ` +
          'does not, so its password is lost: delete the Postgres folder to start afresh (its data goes with it)',
      );
    }
    const loaded = await loadOrCreateSecrets(dataDir);
    const { secrets } = loaded;

    if (!env.DATABASE_URL) say('starting the embedded Postgres');
    database = await openDatabaseServer({
      env,
      dataDir,
      password: secrets.postgresPassword,
      verbose,
      log: (line) => supervisor.line('postgres', line),
    });
    say(`database: ${database.description}`);
    const server = database;
    watchdog = setInterval(() => {
      if (!server.isAlive()) void shutdown(1, 'Postgres stopped unexpectedly');
    }, 1000);

    // Each service's database, made one after another in start order (Postgres writes each one
    // through its WAL anyway): a service starts once its own database is there, not all of them.
    const databases = new Map<string, Promise<void>>();
    let previous = Promise.resolve();
    for (const entry of processes) {
      if (!entry.database) continue;
      const name = entry.database;
      previous = previous.then(() => ensureDatabases(server.url, [name]));
      previous.catch(() => {}); // awaited below, by the entry's start
      databases.set(name, previous);
    }

    // Every port is chosen first, so that each entry's URL is known before anything starts. An
    // entry then starts as soon as the entries whose URLs it uses are ready, the others at once:
    // on two cores, users and products boot together, then the broker and inventory, then the
    // gateway, instead of one after the other.
    const urls = new Map<string, string>();
    // Every internal port apart from the public one, the broker's MQTT port (free now, bound only
    // once the broker starts) and each other: a port free when asked is not reserved.
    const taken = new Set([publicPort, mqttPort]);
    for (const entry of processes) {
      let port = publicPort;
      if (!entry.public) {
        do port = await freePort();
        while (taken.has(port));
        taken.add(port);
      }
      urls.set(entry.name, `http://${internalHost}:${port}`);
    }
    const ready = new Map<string, Promise<void>>();
    for (const [index, entry] of processes.entries()) {
      const url = urls.get(entry.name)!;
      const uses = new Set<string>();
      const childEnv = childEnvironment(entry, Number(new URL(url).port), {
        secrets,
        databaseUrl: entry.database ? databaseUrl(server.url, entry.database) : '',
        publicUrl,
        mqttUrl,
        urlOf(name) {
          if (!processes.slice(0, index).some((earlier) => earlier.name === name)) {
            throw new Error(`${entry.name} needs ${name}, which is not listed before it`);
          }
          uses.add(name);
          return urls.get(name)!;
        },
      });
      const cancelled = () => stopping !== undefined;
      ready.set(
        entry.name,
        (async () => {
          await Promise.all([
            ...[...uses].map((name) => ready.get(name)),
            entry.database ? databases.get(entry.database) : undefined,
          ]);
          if (cancelled()) throw new StartupCancelled();
          const child = supervisor.start({
            name: entry.name,
            command: process.execPath,
            args: [entry.entry],
            cwd: repoRoot,
            env: childEnv,
          });
          await waitUntilReady(entry, `${url}${entry.readyPath}`, child, cancelled);
          say(`${entry.name} is ready on ${url}`);
        })(),
      );
    }
    await Promise.all(ready.values());
    startupDone = true;

    const demo =
      process.env.MERCADO_DEMO === 'false'
        ? undefined
        : await loadDemoData({
            baseUrl: publicUrl,
            admin: { email: secrets.adminEmail, password: secrets.adminPassword },
            demoPassword: secrets.demoPassword,
            regions: localRegions(env),
          });
    if (demo) {
      say(
        `demo shop: ${demo.productsCreated} products added, ${demo.productsKept} already there` +
          (demo.categoriesCreated > 0 ? `, ${demo.categoriesCreated} categories added` : ''),
      );
    }

    if (loaded.generated.includes('adminPassword')) {
      say(
        `first run: this installation's secrets are in ${displayPath(loaded.file)} (readable by you only)`,
      );
      say(`admin account: ${secrets.adminEmail}  password: ${secrets.adminPassword}`);
    } else {
      say(
        `admin account: ${secrets.adminEmail} (its password is "adminPassword" in ${displayPath(loaded.file)})`,
      );
    }
    if (demo) {
      const shown = loaded.generated.includes('demoPassword')
        ? `password: ${secrets.demoPassword}`
        : `(password "demoPassword" in ${displayPath(loaded.file)})`;
      for (const account of demo.accounts) {
        say(
          `demo ${account.roles.includes('seller') ? 'seller' : 'shopper'}: ${account.email}  ${shown}`,
        );
      }
    }
    say(`MQTT broker: ${mqttUrl} (payment terminals; browsers use ${publicUrl}/mqtt)`);
    const headline = `Mercado is running at ${publicUrl}  (health: ${publicUrl}/api/health; Ctrl-C stops it)`;
    process.stdout.write(color ? `\u001b[1m${headline}\u001b[0m\n` : `${headline}\n`);
  } catch (error) {
    if (error instanceof StartupCancelled) return;
    await shutdown(1, `cannot start: ${messageOf(error)}`);
  }
}

/**
 * The child's environment: the launcher's own (so any service setting can be given on the command
 * line) without the names the launcher itself reads, then the standard settings, then the entry's.
 */
function childEnvironment(
  entry: ProcessEntry,
  port: number,
  context: Parameters<ProcessEntry['env']>[0],
): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !launcherOnly.has(key) && !key.startsWith('MERCADO_'),
    ),
  );
  return {
    ...inherited,
    HOST: internalHost,
    PORT: String(port),
    LOG_LEVEL: process.env.LOG_LEVEL || 'info',
    ...entry.env(context),
  };
}

/** Polls the readiness URL while the supervisor restarts the child as often as it needs to. */
async function waitUntilReady(
  entry: ProcessEntry,
  url: string,
  child: SupervisedChild,
  cancelled: () => boolean,
): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (cancelled()) throw new StartupCancelled();
    if (child.gaveUp) {
      throw new Error(`${entry.name} has an invalid configuration (see its line above)`);
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${entry.name} was not ready within ${readyTimeoutMs / 1000} s (${url}); see its lines above`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * SIGINT, SIGTERM and SIGHUP stop things in order: the services, then Postgres; a second signal a
 * moment later kills everything.
 */
function handleShutdownSignals(shutdown: (code: number) => Promise<void>, force: () => void): void {
  let firstSignalAt: number | undefined;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, function onShutdownSignal() {
      // One Ctrl-C can arrive twice (from the terminal and relayed by npm); a second one a moment
      // later means the person is done waiting.
      if (firstSignalAt === undefined) {
        firstSignalAt = Date.now();
        void shutdown(0);
      } else if (Date.now() - firstSignalAt > 1000) {
        force();
      }
    });
  }
}

function parsePort(value: string, name: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${name} must be a port number (1-65535), not "${value}"`);
  }
  return port;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

void main();
