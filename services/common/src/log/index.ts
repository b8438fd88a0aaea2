/** `@mercado/common/log`: the JSON logger (redacting secrets) and the request context it reads. */
export { createLogger, type Logger, type LoggerOptions } from './logger.js';
export { censor, isSensitiveKey } from './redact.js';
export { runWithContext, currentContext, type RequestContext } from './context.js';
