import type { MqttServiceName } from '@mercado/common/contract';
import { hashServiceMqttPassword, servicePasswordHashesSetting } from '@mercado/common/mqtt';
import type { LocalSecrets } from './local-secrets.js';

/** What an entry's env builder gets to work with. */
export interface LaunchContext {
  secrets: LocalSecrets;
  /** The postgres URL of this entry's own database (entries with a `database` only). */
  databaseUrl: string;
  /** Base URL (`http://127.0.0.1:PORT`) of an entry listed earlier, which is already ready. */
  urlOf(name: string): string;
  /** The URL people open: the gateway's. */
  publicUrl: string;
  /** Where the broker takes MQTT over TCP (MQTT_PORT, 1883 by default); it may not be up yet. */
  mqttUrl: string;
}

/** The regions the local shop keeps stock in: REGIONS, or two demo regions. */
export function localRegions(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.REGIONS || 'north,south')
    .split(',')
    .map((region) => region.trim())
    .filter(Boolean);
}

/** One process of the embedded run. */
export interface ProcessEntry {
  /** Short name: the output prefix, and `sql/<name>/` holds its migrations when it has a database. */
  name: string;
  /** The compiled entry point, relative to the repository root. */
  entry: string;
  /** Its own database, created on the local Postgres server when missing. */
  database?: string;
  /** Listens on the public port (PORT, 8080 by default) rather than on a free internal one. */
  public?: boolean;
  /** Polled until it answers 200 before the next entry starts. */
  readyPath: string;
  /**
   * The contract service it logs in to the broker as: its env gets its own MQTT_PASSWORD (and no
   * other's), and the broker admits it (the password's digest).
   */
  mqttService?: MqttServiceName;
  /**
   * The entry's own settings. HOST, PORT and LOG_LEVEL are set for every entry; the launcher's
   * environment is inherited underneath, so any other setting can be given on the command line.
   */
  env(context: LaunchContext): Record<string, string>;
}

/**
 * Everything `npm start` runs, in start order (an entry may use the URLs of those above it).
 * Adding a service is adding an entry here: its migrations then also run with `npm run migrate`.
 */
export const processes: readonly ProcessEntry[] = [
  {
    name: 'users',
    entry: 'services/users/dist/main.js',
    database: 'mercado_users',
    readyPath: '/health/ready',
    mqttService: 'users',
    env: ({ secrets, databaseUrl, mqttUrl }) => ({
      DATABASE_URL: databaseUrl,
      INTERNAL_SECRET: secrets.internalSecret,
      JWT_SIGNING_KEYS: JSON.stringify(secrets.jwtSigningKeys),
      JWT_ACTIVE_KID: secrets.jwtActiveKid,
      ADMIN_EMAIL: secrets.adminEmail,
      ADMIN_PASSWORD: secrets.adminPassword,
      // Terminals' presence; the users client reconnects until the broker (next) is up.
      MQTT_URL: mqttUrl,
      MQTT_PASSWORD: secrets.mqttPasswords.users,
    }),
  },
  {
    name: 'broker',
    entry: 'broker/dist/main.js',
    readyPath: '/health/ready',
    env: ({ secrets, urlOf, mqttUrl }) => ({
      MQTT_PORT: new URL(mqttUrl).port,
      INTERNAL_SECRET: secrets.internalSecret,
      JWKS_URL: `${urlOf('users')}/api/auth/jwks.json`,
      USERS_URL: urlOf('users'),
      ...brokerServiceCredentials(secrets),
    }),
  },
  {
    name: 'products',
    entry: 'services/products/dist/main.js',
    database: 'mercado_products',
    readyPath: '/health/ready',
    env: ({ secrets, databaseUrl }) => ({
      DATABASE_URL: databaseUrl,
      INTERNAL_SECRET: secrets.internalSecret,
    }),
  },
  {
    name: 'inventory',
    entry: 'services/inventory/dist/main.js',
    database: 'mercado_inventory',
    readyPath: '/health/ready',
    mqttService: 'inventory',
    env: ({ secrets, databaseUrl, urlOf, mqttUrl }) => ({
      DATABASE_URL: databaseUrl,
      INTERNAL_SECRET: secrets.internalSecret,
      PRODUCTS_URLS: urlOf('products'),
      REGIONS: localRegions().join(','),
      MQTT_URL: mqttUrl,
      MQTT_PASSWORD: secrets.mqttPasswords.inventory,
    }),
  },
  {
    name: 'orders',
    entry: 'services/orders/dist/main.js',
    database: 'mercado_orders',
    readyPath: '/health/ready',
    mqttService: 'orders',
    env: ({ secrets, databaseUrl, urlOf, mqttUrl }) => ({
      DATABASE_URL: databaseUrl,
      INTERNAL_SECRET: secrets.internalSecret,
      PRODUCTS_URLS: urlOf('products'),
      INVENTORY_URLS: urlOf('inventory'),
      REGIONS: localRegions().join(','),
      // Intents and refunds out (outbox), payment results in, live order status out.
      MQTT_URL: mqttUrl,
      MQTT_PASSWORD: secrets.mqttPasswords.orders,
    }),
  },
  {
    name: 'payments',
    entry: 'services/payments/dist/main.js',
    // Its own database; in Compose, a Postgres server of its own.
    database: 'mercado_payments',
    readyPath: '/health/ready',
    mqttService: 'payments',
    env: ({ secrets, databaseUrl, mqttUrl }) => ({
      // No INTERNAL_SECRET: payments serves no routes to other services (MQTT only).
      DATABASE_URL: databaseUrl,
      PAYMENTS_CARD_KEYS: JSON.stringify(secrets.paymentsCardKeys),
      CARD_FINGERPRINT_KEY: secrets.cardFingerprintKey,
      MQTT_URL: mqttUrl,
      MQTT_PASSWORD: secrets.mqttPasswords.payments,
    }),
  },
  {
    name: 'gateway',
    entry: 'gateway/dist/main.js',
    public: true,
    readyPath: '/health/ready',
    mqttService: 'gateway',
    env: ({ secrets, urlOf, publicUrl, mqttUrl }) => ({
      INTERNAL_SECRET: secrets.internalSecret,
      USERS_URLS: urlOf('users'),
      // Revocations: a disabled or demoted account's tokens are refused within a second.
      MQTT_URL: mqttUrl,
      MQTT_PASSWORD: secrets.mqttPasswords.gateway,
      PRODUCTS_URLS: urlOf('products'),
      INVENTORY_URLS: urlOf('inventory'),
      ORDERS_URLS: urlOf('orders'),
      CORS_ORIGINS:
        process.env.CORS_ORIGINS || `${publicUrl},${publicUrl.replace('127.0.0.1', 'localhost')}`,
      // The storefront at the one URL (built by `npm start` with everything else); every entry
      // runs in the repository's root.
      SITE_DIR: 'frontend/dist/site',
      // And the live connections at the same URL's /mqtt, passed through to the broker.
      BROKER_WS_URL: `${urlOf('broker').replace(/^http/, 'ws')}/mqtt`,
    }),
  },
];

/**
 * The broker's MQTT_PASSWORD_HASHES_{SERVICE}: the digest of the password of each entry that logs
 * in as a service, and nothing for the others, which the broker then does not admit.
 */
function brokerServiceCredentials(secrets: LocalSecrets): Record<string, string> {
  return Object.fromEntries(
    processes.flatMap(({ mqttService }) =>
      mqttService
        ? [
            [
              servicePasswordHashesSetting(mqttService),
              hashServiceMqttPassword(secrets.mqttPasswords[mqttService]),
            ],
          ]
        : [],
    ),
  );
}

/** Every name the launcher prefixes output lines with: its own, Postgres's, and each process's. */
export const outputNames: readonly string[] = [
  'mercado',
  'postgres',
  ...processes.map((entry) => entry.name),
];

/** The entries that own a database, with the folder of their migrations. */
export function databases(): Array<{ name: string; database: string; migrations: string }> {
  return processes.flatMap((entry) =>
    entry.database
      ? [{ name: entry.name, database: entry.database, migrations: `sql/${entry.name}` }]
      : [],
  );
}
