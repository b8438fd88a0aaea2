import { spawnSync } from 'node:child_process';

/** A program some test drives for real, and the Debian package that provides it. */
export interface SystemProgram {
  command: string;
  /** Arguments that make the program print something harmless and exit 0. */
  probe: string[];
  /** The program exits non-zero even for its probe (mosquitto's clients do): found is enough. */
  probeExitsNonZero?: boolean;
  debianPackage: string;
  neededBy: string;
}

/** Where Debian's nginx keeps its stream module (a dynamic module there). */
export const nginxStreamModule = '/usr/lib/nginx/modules/ngx_stream_module.so';

/** The programs the tests drive; a part that needs another adds it here. */
export const systemPrograms: SystemProgram[] = [
  {
    command: 'docker-compose',
    probe: ['version'],
    debianPackage: 'docker-compose',
    neededBy: 'scripts/test/compose.test.ts validates docker-compose.yml',
  },
  {
    command: 'redis-server',
    probe: ['--version'],
    debianPackage: 'redis-server',
    neededBy: "the gateway's shared rate limits (and the broker cluster) run against a real Redis",
  },
  {
    command: 'mosquitto_sub',
    probe: ['--help'],
    probeExitsNonZero: true,
    debianPackage: 'mosquitto-clients',
    neededBy: 'broker tests use mosquitto_pub/mosquitto_sub as a foreign MQTT client',
  },
  {
    command: 'chromium',
    probe: ['--version'],
    debianPackage: 'chromium',
    neededBy:
      'the storefront and back office are tested in a real headless Chromium (driven by playwright-core)',
  },
  {
    command: 'nginx',
    probe: ['-v'],
    debianPackage: 'nginx',
    neededBy: "scripts/test/nginx.test.ts checks and runs the load balancer's rendered config",
  },
  {
    // Debian's nginx has its stream module (MQTT over TCP and TLS) as a package of its own.
    command: 'sh',
    probe: ['-c', `test -e ${nginxStreamModule}`],
    debianPackage: 'libnginx-mod-stream',
    neededBy: "the load balancer's stream block (MQTT over TCP and TLS to the broker nodes)",
  },
  {
    command: 'psql',
    probe: ['--version'],
    debianPackage: 'postgresql-client',
    neededBy:
      'scripts/test/compose-databases.test.ts runs the Postgres init script of docker-compose.yml',
  },
  {
    command: 'curl',
    probe: ['--version'],
    debianPackage: 'curl',
    neededBy:
      'scripts/test/compose-load-balancer.test.ts asks the load balancer inside its namespace',
  },
  {
    command: 'ip',
    probe: ['-V'],
    debianPackage: 'iproute2',
    neededBy:
      'scripts/test/compose-load-balancer.test.ts brings up loopback in its own network namespace',
  },
  {
    command: 'openssl',
    probe: ['version'],
    debianPackage: 'openssl',
    neededBy:
      "broker/test/tls.test.ts makes a self-signed certificate for the broker's TLS listener",
  },
];

function present(program: SystemProgram): boolean {
  const result = spawnSync(program.command, program.probe, { stdio: 'ignore' });
  return !result.error && (result.status === 0 || program.probeExitsNonZero === true);
}

/**
 * Makes sure every program the tests drive is installed: as root with apt-get it installs what is
 * missing; otherwise it stops with the exact install line. It never lets a test skip silently.
 * The benchmarks ensure their own programs the same way (`neededFor`: who needs them).
 */
export function ensureSystemPrograms(
  programs: SystemProgram[] = systemPrograms,
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  neededFor = 'the tests',
): boolean {
  const missing = programs.filter((program) => !present(program));
  if (missing.length === 0) return true;
  const packages = [...new Set(missing.map((program) => program.debianPackage))];
  const installLine = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = !spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).error;
  if (!isRoot || !hasApt) {
    for (const program of missing) write(`missing ${program.command}: ${program.neededBy}`);
    write(`install it with: sudo apt-get update && sudo ${installLine}`);
    return false;
  }
  write(`installing ${packages.join(', ')} (needed by ${neededFor})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
  const still = missing.filter((program) => !present(program));
  if (update.status !== 0 || install.status !== 0 || still.length > 0) {
    write(`could not install ${packages.join(' ')}; run: ${installLine}`);
    return false;
  }
  return true;
}
