/**
 * `@mercado/common/contract`: what components agree on without importing each other — the MQTT
 * topic contract (every topic, who may use it, its payload) and the internal HTTP calls between
 * services.
 */
export {
  mqttServices,
  topics,
  isTopicKey,
  matchTopic,
  checkTopicName,
  checkTopicFilter,
  mayPublish,
  checkPublish,
  maySubscribe,
  parseSharedFilter,
  parsePayload,
  maxTopicBytes,
  maxTopicLevelBytes,
  maxPayloadBytes,
  type MqttServiceName,
  type Principal,
  type AccessRule,
  type PatternParams,
  type TopicSpec,
  type TopicKey,
  type TopicPayload,
  type TopicParams,
  type TopicMatch,
  type PublishOptions,
  type PublishCheck,
  type SharedFilter,
  type ParsedPayload,
  type ParsedMessage,
  type PayloadFailure,
} from './contract.js';
/** Every topic's payload schema and type. */
export * from './payloads.js';
export {
  productLookupPath,
  maxProductLookupIds,
  productLookupRequestSchema,
  productLookupItemSchema,
  productLookupResponseSchema,
  type ProductLookupRequest,
  type ProductLookupItem,
  type ProductLookupResponse,
} from './product-lookup.js';
export {
  revocationListPath,
  revocationListCallers,
  revocationListResponseSchema,
  maxAccessTokenLifetimeSeconds,
  createRevocationLedger,
  type RevocationListResponse,
  type RevocationLedger,
} from './revocation-list.js';
export {
  cardKeyAlgorithm,
  cardContentEncryption,
  cardKeyCurves,
  cardPublicJwkSchema,
  encryptCard,
  type CardPublicJwk,
} from './card-encryption.js';
