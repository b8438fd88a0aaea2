/**
 * `@mercado/common/mqtt`: a service's MQTT client and its broker credentials, and the outbox
 * relay (see README.md, "Messaging").
 */
export {
  serviceMqttCredentials,
  hashServiceMqttPassword,
  servicePasswordHashesSetting,
  servicePasswordHashesSettings,
  createServicePasswordCheck,
  type ServicePasswordHashesSetting,
} from './credentials.js';
export {
  connectMqtt,
  createMqttClient,
  publishWithin,
  type IClientOptions,
  type MqttClient,
} from './client.js';
export {
  createServiceMqttClient,
  type ServiceMqttClientOptions,
  type ServiceMqttConfig,
} from './service-client.js';
export {
  startOutboxRelay,
  type OutboxRelay,
  type OutboxRelayOptions,
  type OutboxRelayStats,
} from './outbox-relay.js';
