import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../src/local-state.js';
import { composeProcesses } from '../src/compose-services.js';
import { builtStage, resolvedCompose } from './compose-helpers.js';

/**
 * For every compose service that runs Mercado's code, the compose file against the code's own
 * configuration (the settings shape and the loader each process's main uses,
 * scripts/src/compose-services.ts): every setting the process requires is set, every variable
 * its environment sets is one it reads, the configuration it would load is valid, and it runs the
 * entry its package builds, listening on the ports the load balancer and the health checks use.
 */

let resolved: ReturnType<typeof resolvedCompose> | undefined;
const compose = () => (resolved ??= resolvedCompose(t));

/** Whether the setting stops a process that starts without it (no default, not optional). */
function requiresValue(schema: unknown): boolean {
  return !(schema as { safeParse(value: unknown): { success: boolean } }).safeParse(undefined)
    .success;
}

t.test(
  'every compose service built from our Dockerfiles is one whose settings are known',
  async (t) => {
    const { document } = await compose();
    const built = Object.entries(document.services)
      .filter(([, service]) => service.build && !service.build.dockerfile?.startsWith('load-'))
      .map(([name]) => name)
      .sort();
    t.same(built, composeProcesses.map((entry) => entry.service).sort());
  },
);

for (const entry of composeProcesses) {
  t.test(`${entry.service}: its compose environment is what its code reads`, async (t) => {
    const { document } = await compose();
    const service = document.services[entry.service]!;
    const { stage } = builtStage(service);
    // NODE_ENV is the runtime's (Express reads it), not a setting of ours.
    const { NODE_ENV, ...imageEnv } = stage.env;
    t.equal(NODE_ENV, 'production', 'the image runs in production mode');
    const environment = service.environment ?? {};
    const env = { ...imageEnv, ...environment };

    t.same(
      Object.keys(environment).filter((key) => !(key in entry.settings)),
      [],
      'no variable is set that the code does not read',
    );
    t.same(
      Object.keys(imageEnv).filter((key) => !(key in entry.settings)),
      [],
      'nor in its image',
    );
    t.same(
      Object.entries(entry.settings)
        .filter(([key, schema]) => requiresValue(schema) && !env[key])
        .map(([key]) => key),
      [],
      'every setting it requires is set',
    );
    let loaded: Record<string, unknown> = {};
    try {
      loaded = entry.load(env) as Record<string, unknown>;
      t.pass('its configuration loads as its main loads it');
    } catch (error) {
      t.fail(`its configuration does not load: ${(error as Error).message}`);
    }

    t.same(
      Object.fromEntries(Object.keys(entry.ports).map((key) => [key, loaded[key]])),
      entry.ports,
      'it listens on the ports the load balancer and its health check use',
    );
    t.same(
      (service.expose ?? []).map(Number).sort(),
      Object.values(entry.ports).sort(),
      'and the compose file says so',
    );

    const [program, script = ''] = service.command ?? stage.cmd ?? [];
    const runs = path.posix.resolve(stage.workdir ?? '/', script);
    t.same(
      [program, runs],
      ['node', path.posix.join('/app', entry.packageDir, entry.entry)],
      `the image runs node ${runs}`,
    );
    const source = entry.entry.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
    t.ok(existsSync(path.join(repoRoot, entry.packageDir, source)), `built from ${source}`);
    if (entry.service !== 'migrate') {
      const manifest = JSON.parse(
        readFileSync(path.join(repoRoot, entry.packageDir, 'package.json'), 'utf8'),
      ) as { scripts?: { start?: string } };
      t.equal(manifest.scripts?.start, `node ${entry.entry}`, "its package's start script");
    }
  });
}
