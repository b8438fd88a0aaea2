import { createHash, timingSafeEqual } from 'node:crypto';
import { setting } from '../config/config.js';
import { mqttServices, type MqttServiceName } from '../contract/contract.js';

/**
 * MQTT credentials of a Mercado service: username `service:{name}`, and a password of its own
 * (MQTT_PASSWORD), generated at random for that service alone. No other service holds it or can
 * derive it (INTERNAL_SECRET, which every service holds, plays no part), so one service cannot log
 * in as another: payments' password, which reads card requests, is known to payments and the
 * broker only.
 *
 * The broker keeps SHA-256 digests, not the passwords (MQTT_PASSWORD_HASHES_{SERVICE}, several
 * during a rotation): what leaks from the broker's environment logs nobody in. A fast hash is
 * enough because the passwords are random and long (at least 32 characters, 144 random bits from
 * `npm start` and `compose:env`): there is no dictionary to try.
 */
export function serviceMqttCredentials(
  service: MqttServiceName,
  password: string,
): { username: string; password: string } {
  return { username: `service:${service}`, password };
}

/** What the broker keeps of a service password: its SHA-256, in hex (as `sha256sum` prints it). */
export function hashServiceMqttPassword(password: string | Buffer): string {
  return createHash('sha256').update(password).digest('hex');
}

/** The broker's setting that lists a service's password digests. */
export type ServicePasswordHashesSetting = `MQTT_PASSWORD_HASHES_${Uppercase<MqttServiceName>}`;

export function servicePasswordHashesSetting(
  service: MqttServiceName,
): ServicePasswordHashesSetting {
  return `MQTT_PASSWORD_HASHES_${service.toUpperCase() as Uppercase<MqttServiceName>}`;
}

/**
 * The broker's settings: per contract service, the SHA-256 digests of the passwords it accepts
 * (comma-separated; an old and a new one while a rotation is under way). A service without one is
 * not admitted at all.
 */
export const servicePasswordHashesSettings = Object.fromEntries(
  mqttServices.map((service) => [
    servicePasswordHashesSetting(service),
    setting.sha256Digests().optional(),
  ]),
) as Record<
  ServicePasswordHashesSetting,
  ReturnType<ReturnType<typeof setting.sha256Digests>['optional']>
>;

/**
 * The broker's check of a service's password against the digests its configuration lists, in
 * constant time (every listed digest is compared, whichever matches).
 */
export function createServicePasswordCheck(
  config: Partial<Record<ServicePasswordHashesSetting, readonly string[] | undefined>>,
): (service: MqttServiceName, password: Buffer | string) => boolean {
  const accepted = new Map<MqttServiceName, Buffer[]>(
    mqttServices.map((service) => [
      service,
      (config[servicePasswordHashesSetting(service)] ?? []).map((hex) => Buffer.from(hex, 'hex')),
    ]),
  );
  return function isServicePassword(service, password) {
    const digests = accepted.get(service) ?? [];
    const given = createHash('sha256').update(password).digest();
    let matched = false;
    for (const digest of digests) {
      if (timingSafeEqual(given, digest)) matched = true;
    }
    return matched;
  };
}
