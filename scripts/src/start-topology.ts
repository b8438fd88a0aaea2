import { startTopology, type Topology } from './topology.js';

/**
 * `npm run start:topology`: the production topology as local processes (docs/topology.md), every
 * process's lines prefixed with its name, until Ctrl-C (or SIGTERM), which stops everything it
 * started. LOG_LEVEL sets the services' level (info here); PORT and MQTT_PORT nginx's ports
 * (free ones otherwise); MERCADO_DEMO=false skips the demo shop.
 */

const width = 'postgres-payments'.length;
const say = (name: string, text: string) =>
  process.stdout.write(`${name.padEnd(width)} | ${text}\n`);

function port(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535) {
    throw new Error(`${name} must be a port number (1-65535), not "${value}"`);
  }
  return parsed;
}

async function main(): Promise<void> {
  let topology: Topology | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('topology', 'stopping every process');
    await topology?.stop();
    say('topology', 'stopped');
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => void stop(0));

  say('topology', 'starting: 2 Postgres servers, Redis, nginx, 2 broker nodes, 12 Node processes');
  const started = Date.now();
  try {
    const httpPort = port('PORT');
    const mqttPort = port('MQTT_PORT');
    topology = await startTopology({
      logLevel: process.env.LOG_LEVEL || 'info',
      onLine: say,
      ...(httpPort ? { httpPort } : {}),
      ...(mqttPort ? { mqttPort } : {}),
      demo: process.env.MERCADO_DEMO !== 'false',
    });
  } catch (error) {
    say('topology', `cannot start: ${error instanceof Error ? error.message : String(error)}`);
    await stop(1);
    return;
  }
  if (stopping) return;
  for (const name of ['frontend', 'gateway', 'broker', 'orders', 'payments'] as const) {
    say(
      'topology',
      `${name}: ${topology
        .replicas(name)
        .map((r) => `${r.url} (pid ${r.pid})`)
        .join(', ')}`,
    );
  }
  say('topology', `admin account: ${topology.admin.email}  password: ${topology.admin.password}`);
  say('topology', `demo accounts' password: ${topology.demoPassword}`);
  say('topology', `up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.stdout.write(
    `Mercado's topology is running at ${topology.url}  (live status: ${topology.wsUrl}; ` +
      `terminals: ${topology.mqttUrl}; Ctrl-C stops it)\n`,
  );
}

void main();
