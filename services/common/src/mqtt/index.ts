/** `@mercado/common/mqtt`: a service's MQTT client, its broker credentials, and the outbox relay. */
export { serviceMqttCredentials, isServiceMqttPassword } from './credentials.js';
export { connectMqtt, createMqttClient, publishWithin, type MqttClient } from './client.js';
export {
  startOutboxRelay,
  type OutboxRelay,
  type OutboxRelayOptions,
  type OutboxRelayStats,
} from './outbox-relay.js';
