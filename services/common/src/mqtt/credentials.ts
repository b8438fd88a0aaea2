import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * MQTT credentials of a Mercado service. Every service already holds INTERNAL_SECRET (it signs
 * service-to-service identities with it), so a service's broker password is derived from it rather
 * than being one more secret to hand out and rotate: HMAC-SHA256(INTERNAL_SECRET, name). The
 * broker derives the same and compares in constant time; the secret itself never travels.
 */
export function serviceMqttCredentials(
  internalSecret: string,
  service: string,
): { username: string; password: string } {
  return {
    username: `service:${service}`,
    password: derivePassword(internalSecret, service),
  };
}

/** Whether `password` is the derived broker password of `service`. */
export function isServiceMqttPassword(
  internalSecret: string,
  service: string,
  password: Buffer | string,
): boolean {
  const expected = Buffer.from(derivePassword(internalSecret, service));
  const given = Buffer.isBuffer(password) ? password : Buffer.from(password);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function derivePassword(internalSecret: string, service: string): string {
  return createHmac('sha256', internalSecret)
    .update(`mercado-mqtt-service:${service}`)
    .digest('base64url');
}
