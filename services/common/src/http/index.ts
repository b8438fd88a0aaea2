/**
 * `@mercado/common/http`: the HTTP app every service builds, its routers (each route validated,
 * admitted and documented from its spec), listening and shutdown, answer caching, cursors, and
 * the service-to-service client.
 */
export { buildHttpApp, type HttpAppOptions, type ReadinessCheck } from './app.js';
export { buildServiceApp, type ServiceAppOptions } from './service-app.js';
export {
  ApiRouter,
  allowHeader,
  type DocumentedOperation,
  type HttpMethod,
  type OperationHandler,
  type OperationInput,
  type OperationSpec,
  type ResponseSpec,
} from './api-router.js';
export {
  openApiDocument,
  problemSchema,
  errorsDescription,
  type DocumentInfo,
  type OpenApiDocument,
} from './openapi.js';
export { sendProblem } from './error-handler.js';
/** For a handler that validates outside ApiRouter (the gateway's own routes). */
export { fieldErrors, nulCharacters, type RequestPart } from './validation.js';
/** Also declares `req.id`, the request id every handler and log line has. */
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
export { matchesIfNoneMatch } from './conditional.js';
export {
  serveStaticSite,
  siteContentSecurityPolicy,
  type StaticSiteOptions,
} from './static-site.js';
export { createCursorCodec, type CursorCodec } from './cursor.js';
export {
  createServiceClient,
  type ServiceClient,
  type ServiceClientOptions,
  type ServiceResponse,
} from './service-client.js';
export {
  createProductLookupClient,
  type ProductLookupClient,
  type ProductLookupClientOptions,
} from './product-lookup-client.js';
