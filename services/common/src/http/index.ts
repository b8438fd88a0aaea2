/**
 * `@mercado/common/http`: the HTTP app every service builds, its routers (validated, documented),
 * listening and shutdown, answer caching, cursors, and the service-to-service client.
 */
export { buildHttpApp, type HttpAppOptions, type ReadinessCheck } from './app.js';
export { buildServiceApp, type ServiceAppOptions } from './service-app.js';
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
export { validate, fieldErrors, type RequestPart } from './validation.js';
export { errorHandler, notFoundHandler, sendProblem } from './error-handler.js';
export { requestContext } from './request-context.js';
export { listen, handleShutdown, type ListeningServer, type ShutdownOptions } from './server.js';
export {
  AnswerCache,
  answerFromCache,
  sendCacheableJson,
  startAnswerCache,
  type AnswerCacheConfig,
  type AnswerCacheOptions,
  type ServiceAnswers,
} from './answer-cache.js';
export { entityTag, matchesIfNoneMatch } from './conditional.js';
export { createCursorCodec, type CursorCodec } from './cursor.js';
export {
  createServiceClient,
  type ServiceClient,
  type ServiceClientOptions,
  type ServiceResponse,
} from './service-client.js';
