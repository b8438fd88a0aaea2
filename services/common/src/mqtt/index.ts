/**
 * `@mercado/common/mqtt`: a service's MQTT client and its broker credentials, topic filters from
 * the contract, consumers, and the outbox with its relay (see README.md, "Messaging").
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
  endMqtt,
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
  topicFilter,
  sharedTopicFilter,
  filterMatches,
  type FilterParams,
} from './topic-filters.js';
export {
  consumeTopic,
  type ConsumeOptions,
  type ConsumedMessage,
  type TopicConsumer,
} from './consumer.js';
export {
  defineOutbox,
  type Outbox,
  type OutboxMessage,
  type OutboxOptions,
  type OutboxRelayConfig,
  type OutboxRelayTask,
  type OutboxRuntime,
} from './outbox.js';
export {
  startOutboxRelay,
  type OutboxRelay,
  type OutboxRelayOptions,
  type OutboxRelayStats,
} from './outbox-relay.js';
