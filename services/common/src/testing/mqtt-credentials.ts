import { mqttServices, type MqttServiceName } from '../contract/contract.js';
import {
  hashServiceMqttPassword,
  serviceMqttCredentials,
  servicePasswordHashesSetting,
} from '../mqtt/credentials.js';

/**
 * A test's broker password for `service`: fixed, so a test's broker and its services agree
 * without passing it around. Production passwords are random (`npm start`, `compose:env`).
 */
export function testMqttPassword(service: MqttServiceName): string {
  return `test-mqtt-password-of-${service}-0123456789abcdef`;
}

/** What a test connects to the broker with as `service`. */
export function testServiceMqttCredentials(service: MqttServiceName): {
  username: string;
  password: string;
} {
  return serviceMqttCredentials(service, testMqttPassword(service));
}

/** A test broker's settings admitting `services` (every contract service by default). */
export function testBrokerCredentials(
  services: readonly MqttServiceName[] = mqttServices,
): Record<string, string> {
  return Object.fromEntries(
    services.map((service) => [
      servicePasswordHashesSetting(service),
      hashServiceMqttPassword(testMqttPassword(service)),
    ]),
  );
}
