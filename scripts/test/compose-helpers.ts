import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { repoRoot } from '../src/local-state.js';

/**
 * What the compose tests share: `docker-compose config` (Compose v1.29, which needs no Docker
 * engine) run on exactly the variables given, the .env `npm run compose:env` prints, and the
 * Dockerfiles read stage by stage.
 */
export const composeFile = path.join(repoRoot, 'docker-compose.yml');
const installLine = 'apt-get install -y --no-install-recommends docker-compose';

interface Teardown {
  teardown(fn: () => unknown): void;
}

if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).error) {
  // The test runner installs it (scripts/src/system-packages.ts); run alone, say exactly how.
  throw new Error(`docker-compose is not installed: ${installLine}`);
}

export interface ConfigRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `docker-compose config` with exactly the given variables and env file: never the developer's
 * own `.env` or environment.
 */
export async function composeConfig(
  t: Teardown,
  vars: Record<string, string>,
  envFile = '',
): Promise<ConfigRun> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-compose-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, '.env');
  await writeFile(file, envFile);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...vars };
  const args = ['--env-file', file, '-f', composeFile, 'config'];
  try {
    const { stdout } = await promisify(execFile)('docker-compose', args, { env, cwd: repoRoot });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A fresh .env from `npm run compose:env` (its compiled script) and its variables. */
export async function generatedEnv(): Promise<{ text: string; vars: Record<string, string> }> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    path.join(repoRoot, 'scripts/dist/compose-env.js'),
  ]);
  const vars: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match) vars[match[1]!] = match[2]!.replace(/^'(.*)'$/, '$1');
  }
  return { text: stdout, vars };
}

/** The parts of a service of the resolved compose file the tests read. */
export interface ComposeService {
  build?: { context: string; dockerfile?: string; target?: string; args?: Record<string, string> };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: Array<{ target: number; published?: number | string }>;
  expose?: string[];
  volumes?: string[];
  deploy?: { replicas?: number };
  restart?: string;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  container_name?: string;
}

export interface ComposeDocument {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** The compose file as `docker-compose config` resolves it with a generated .env. */
export async function resolvedCompose(t: Teardown): Promise<{
  run: ConfigRun;
  document: ComposeDocument;
  vars: Record<string, string>;
}> {
  const { text, vars } = await generatedEnv();
  const run = await composeConfig(t, {}, text);
  if (run.code !== 0) throw new Error(`docker-compose config failed: ${run.stderr}`);
  return { run, document: YAML.parse(run.stdout) as ComposeDocument, vars };
}

/** One stage of a Dockerfile: what its instructions set for the container that runs it. */
export interface DockerStage {
  name: string | undefined;
  from: string;
  env: Record<string, string>;
  workdir: string | undefined;
  user: string | undefined;
  cmd: string[] | undefined;
  entrypoint: string[] | undefined;
  healthcheck: string | undefined;
  expose: string[];
}

/**
 * A Dockerfile's stages, in order. Only what the tests read is parsed: FROM, ENV (KEY=value
 * pairs), WORKDIR, USER, CMD and ENTRYPOINT (exec form), HEALTHCHECK and EXPOSE, each joined over
 * its continuation lines.
 */
export function dockerStages(file: string): DockerStage[] {
  const text = readFileSync(path.join(repoRoot, file), 'utf8').replace(/\\\n/g, ' ');
  const stages: DockerStage[] = [];
  for (const line of text.split('\n')) {
    const [, instruction, rest = ''] = /^([A-Z]+)\s+(.*)$/.exec(line.trim()) ?? [];
    if (instruction === 'FROM') {
      const [from, , name] = rest.split(/\s+/);
      stages.push({
        name,
        from: from!,
        env: {},
        workdir: undefined,
        user: undefined,
        cmd: undefined,
        entrypoint: undefined,
        healthcheck: undefined,
        expose: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) continue;
    if (instruction === 'ENV') {
      for (const [, key, value] of rest.matchAll(/([A-Z_]+)=(\S+)/g)) stage.env[key!] = value!;
    } else if (instruction === 'WORKDIR') stage.workdir = rest;
    else if (instruction === 'USER') stage.user = rest;
    else if (instruction === 'CMD') stage.cmd = JSON.parse(rest) as string[];
    else if (instruction === 'ENTRYPOINT') stage.entrypoint = JSON.parse(rest) as string[];
    else if (instruction === 'HEALTHCHECK') stage.healthcheck = rest;
    else if (instruction === 'EXPOSE') stage.expose.push(...rest.split(/\s+/));
  }
  return stages;
}

/** The stage a compose service's build runs: its target, else the Dockerfile's last. */
export function builtStage(service: ComposeService): { file: string; stage: DockerStage } {
  if (!service.build) throw new Error('the service is not built here');
  const file = path.relative(
    repoRoot,
    path.resolve(service.build.context, service.build.dockerfile ?? 'Dockerfile'),
  );
  const stages = dockerStages(file);
  const target = service.build.target;
  const stage = target ? stages.find((entry) => entry.name === target) : stages.at(-1);
  if (!stage) throw new Error(`${file} has no stage ${target}`);
  const args = service.build.args ?? {};
  const workdir = stage.workdir?.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? '');
  return { file, stage: { ...stage, workdir } };
}
