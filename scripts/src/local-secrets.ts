import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mqttServices, type MqttServiceName } from '@mercado/common/contract';
import { generateCardKey, type CardPrivateJwk } from '@mercado/payments/keys';
import { generateSigningKey, type SigningJwk } from './signing-keys.js';

/**
 * The secrets of one local installation (`npm start`), generated on the first run and kept in the
 * data directory so that later runs find the same database, tokens and admin account.
 */
export interface LocalSecrets {
  postgresPassword: string;
  /** Signs the identity headers the gateway sends to services (HMAC-SHA256). */
  internalSecret: string;
  jwtSigningKeys: SigningJwk[];
  jwtActiveKid: string;
  adminEmail: string;
  adminPassword: string;
  /** The password of the demo shopper and the two demo sellers. */
  demoPassword: string;
  /**
   * Each contract service's own broker password (its MQTT_PASSWORD; the broker gets their
   * SHA-256 digests): a service is handed its own only.
   */
  mqttPasswords: Record<MqttServiceName, string>;
  /** The private keys payments decrypts cards with (PAYMENTS_CARD_KEYS); payments' alone. */
  paymentsCardKeys: CardPrivateJwk[];
  /** The key of payments' card fingerprints (CARD_FINGERPRINT_KEY). */
  cardFingerprintKey: string;
}

export interface LoadedSecrets {
  secrets: LocalSecrets;
  file: string;
  /** True when the file did not exist before this call. */
  created: boolean;
  /** Fields this call generated (all of them on the first run; new ones after an upgrade). */
  generated: Array<keyof LocalSecrets>;
}

const randomText = (bytes: number) => () =>
  Promise.resolve(randomBytes(bytes).toString('base64url'));

/**
 * How each secret is made. A field added here by a later version is generated on the next start
 * and added to the existing file, leaving the others untouched.
 */
const generators: {
  [K in keyof LocalSecrets]: (so: Partial<LocalSecrets>) => Promise<LocalSecrets[K]>;
} = {
  postgresPassword: randomText(24),
  internalSecret: randomText(48),
  jwtSigningKeys: async () => [await generateSigningKey()],
  jwtActiveKid: async (so) => so.jwtSigningKeys?.[0]?.kid ?? '',
  adminEmail: () => Promise.resolve('admin@mercado.local'),
  adminPassword: randomText(18),
  demoPassword: randomText(12),
  // Keeps the ones already there: a service added to the contract gets one on the next start.
  mqttPasswords: async (so) =>
    Object.fromEntries(
      await Promise.all(
        mqttServices.map(async (service) => [
          service,
          so.mqttPasswords?.[service] || (await randomText(24)()),
        ]),
      ),
    ) as Record<MqttServiceName, string>,
  paymentsCardKeys: async () => [await generateCardKey()],
  cardFingerprintKey: randomText(32),
};

/** Whether a stored value still lacks something a generator would add. */
function incomplete(key: keyof LocalSecrets, value: unknown): boolean {
  if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) {
    return true;
  }
  if (key === 'mqttPasswords') {
    const passwords = value as Partial<Record<MqttServiceName, string>>;
    return mqttServices.some((service) => !passwords[service]);
  }
  return false;
}

export const secretsFileName = 'secrets.json';

/**
 * Reads `<dataDir>/secrets.json`, generating whatever is missing, and keeps the file readable by
 * its owner only (0600). Written to a temporary file first and renamed, so an interrupted first run
 * never leaves half a file behind.
 */
export async function loadOrCreateSecrets(dataDir: string): Promise<LoadedSecrets> {
  const file = path.join(dataDir, secretsFileName);
  let stored: Partial<LocalSecrets> | undefined;
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as Partial<LocalSecrets>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
    }
  }
  const secrets: Partial<LocalSecrets> = { ...stored };
  const generated: Array<keyof LocalSecrets> = [];
  for (const key of Object.keys(generators) as Array<keyof LocalSecrets>) {
    if (incomplete(key, secrets[key])) {
      (secrets as Record<string, unknown>)[key] = await generators[key](secrets);
      generated.push(key);
    }
  }
  if (generated.length > 0) {
    // 0755 rather than 0700: as root, the embedded Postgres runs as the `postgres` user and must
    // reach its data directory inside this one. The secrets file itself is the private part.
    await mkdir(dataDir, { recursive: true, mode: 0o755 });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, file);
  }
  await chmod(file, 0o600);
  return { secrets: secrets as LocalSecrets, file, created: stored === undefined, generated };
}
