export {
  ConfigError,
  loadConfig,
  setting,
  baseServiceSettings,
  databaseSettings,
  outboxRelaySettings,
} from './config.js';
export { runWithContext, currentContext, type RequestContext } from './context.js';
export { createLogger, redactPaths, type Logger, type LoggerOptions } from './logger.js';
export { errorCatalogue, type ErrorCode } from './errors/catalogue.js';
export { AppError, isAppError, type FieldError, type AppErrorOptions } from './errors/app-error.js';
export { fromPostgresError, isSerializationFailure, isUniqueViolation } from './errors/postgres.js';
export { toProblem, problemType, problemContentType, type Problem } from './errors/problem.js';
export { validate, fieldErrors, type RequestPart } from './validation.js';
export { createCursorCodec, type CursorCodec } from './cursor.js';
export { createMetrics, type Metrics } from './metrics.js';
export {
  createDb,
  withTransaction,
  migrate,
  pingDb,
  SqlMigrationSource,
  type Knex,
  type DbOptions,
  type TransactionOptions,
} from './db.js';
export { listenForChanges, type ChangeFeed, type ChangeFeedOptions } from './change-feed.js';
export {
  AnswerCache,
  answerFromCache,
  sendCacheableJson,
  type AnswerCacheOptions,
} from './http/answer-cache.js';
export { entityTag, matchesIfNoneMatch } from './http/conditional.js';
export { buildHttpApp, type HttpAppOptions, type ReadinessCheck } from './http/app.js';
export { buildServiceApp, type ServiceAppOptions } from './http/service-app.js';
export { errorHandler, notFoundHandler, sendProblem } from './http/error-handler.js';
export { requestContext } from './http/request-context.js';
export {
  listen,
  handleShutdown,
  type ListeningServer,
  type ShutdownOptions,
} from './http/server.js';
export {
  roles,
  signIdentity,
  verifyIdentity,
  identityFromGateway,
  requireRole,
  requireService,
  identityHeader,
  identitySignatureHeader,
  type Role,
  type Identity,
} from './identity.js';
export { runMain } from './main.js';
export { freePort } from './free-port.js';
export {
  runDatabaseService,
  type DatabaseServiceConfig,
  type DatabaseServiceOptions,
  type ServiceRuntime,
} from './service-main.js';
export {
  createServiceClient,
  type ServiceClient,
  type ServiceClientOptions,
  type ServiceResponse,
} from './service-client.js';
export {
  ApiRouter,
  openApiDocument,
  toOpenApiPath,
  type Access,
  type DocumentedOperation,
  type DocumentInfo,
  type HttpMethod,
  type OpenApiDocument,
  type OperationSpec,
  type ResponseSpec,
} from './openapi.js';
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
  cardSchema,
  paymentIntentSchema,
  paymentRequestSchema,
  paymentResultSchema,
  terminalPaymentRequestSchema,
  terminalPaymentResultSchema,
  terminalStatusSchema,
  orderStatusChangedSchema,
  lowStockReachedSchema,
  type Card,
  type PaymentIntentCreated,
  type PaymentRequested,
  type PaymentResult,
  type TerminalPaymentRequested,
  type TerminalPaymentResult,
  type TerminalStatus,
  type OrderStatusChanged,
  type LowStockReached,
} from './mqtt/contract.js';
export { serviceMqttCredentials, isServiceMqttPassword } from './mqtt/credentials.js';
export { connectMqtt, createMqttClient, publishWithin, type MqttClient } from './mqtt/client.js';
export {
  startOutboxRelay,
  type OutboxRelay,
  type OutboxRelayOptions,
  type OutboxRelayStats,
} from './mqtt/outbox-relay.js';
