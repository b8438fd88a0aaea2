import { loadConfig } from '@mercado/common/config';
import { loadBrokerConfig, brokerSettings } from '@mercado/broker';
import { frontendSettings } from '@mercado/frontend/config';
import { gatewaySettings, loadGatewayConfig } from '@mercado/gateway';
import { inventorySettings, loadInventoryConfig } from '@mercado/inventory';
import { loadOrdersConfig, ordersSettings } from '@mercado/orders';
import { loadPaymentsConfig, paymentsSettings } from '@mercado/payments';
import { loadProductsConfig, productsSettings } from '@mercado/products';
import { loadUsersConfig, usersSettings } from '@mercado/users';
import { migrateEachSettings } from './migrate-each.js';

type Env = Record<string, string | undefined>;

/**
 * A service of docker-compose.yml that runs Mercado's code: its workspace, the entry its image
 * runs, its configuration as the code defines it (the same shape and loader its main uses), and
 * the ports it listens on in its container. The load balancer's configuration (lb-config.ts) is
 * rendered from these ports, and scripts/test/compose-settings.test.ts holds the compose file to
 * the rest: every setting the code requires is set, every one set is read, the ports agree.
 */
export interface ComposeProcess {
  service: string;
  /** The workspace folder (the Dockerfile's PACKAGE_DIR) and its entry, relative to it. */
  packageDir: string;
  entry: string;
  /** Every variable the process reads (its config's keys). */
  settings: Readonly<Record<string, unknown>>;
  /** Loads and validates its configuration exactly as its main does; throws a ConfigError. */
  load(env: Env): object;
  /** The ports it listens on, by the setting that chooses each (empty: it listens on none). */
  ports: Readonly<Record<string, number>>;
}

/** Every service's HTTP port inside its container (the Dockerfiles' PORT). */
export const servicePort = 3000;

const database = (
  service: string,
  settings: Record<string, unknown>,
  load: (env: Env) => object,
): ComposeProcess => ({
  service,
  packageDir: `services/${service}`,
  entry: 'dist/main.js',
  settings,
  load,
  ports: { PORT: servicePort },
});

export const composeProcesses: readonly ComposeProcess[] = [
  {
    service: 'frontend',
    packageDir: 'frontend',
    entry: 'dist/server.js',
    settings: frontendSettings,
    load: (env) => loadConfig(frontendSettings, env),
    ports: { PORT: 8090 },
  },
  {
    service: 'gateway',
    packageDir: 'gateway',
    entry: 'dist/main.js',
    settings: gatewaySettings,
    load: loadGatewayConfig,
    ports: { PORT: 8080 },
  },
  {
    service: 'broker',
    packageDir: 'broker',
    entry: 'dist/main.js',
    settings: brokerSettings,
    load: loadBrokerConfig,
    // HTTP: health, metrics and MQTT over WebSocket at /mqtt; MQTT over TCP. TLS ends at the
    // load balancer, so the broker's own MQTTS listener stays off.
    ports: { PORT: servicePort, MQTT_PORT: 1883, MQTT_PROXY_PORT: 1884 },
  },
  database('users', usersSettings, loadUsersConfig),
  database('products', productsSettings, loadProductsConfig),
  database('inventory', inventorySettings, loadInventoryConfig),
  database('orders', ordersSettings, loadOrdersConfig),
  database('payments', paymentsSettings, loadPaymentsConfig),
  {
    service: 'migrate',
    packageDir: 'scripts',
    entry: 'dist/compose-migrate.js',
    settings: migrateEachSettings,
    load: (env) => loadConfig(migrateEachSettings, env),
    ports: {},
  },
];

/** The process of one compose service. */
export function composeProcess(service: string): ComposeProcess {
  const found = composeProcesses.find((entry) => entry.service === service);
  if (!found) throw new Error(`${service} is not a compose service running Mercado's code`);
  return found;
}
