import { pino, type Logger, type DestinationStream } from 'pino';
import { currentContext } from './context.js';

export type { Logger } from 'pino';

/**
 * Field paths pino censors wherever they appear in a logged object (pino's `*` matches one level).
 * Passwords, tokens, secrets and card data never reach a log, even when a caller logs an object
 * carelessly.
 */
const sensitiveKeys = [
  'password',
  'currentPassword',
  'newPassword',
  'token',
  'accessToken',
  'refreshToken',
  'secret',
  'authorization',
  'cookie',
  'card',
  'cardNumber',
  'cvc',
  'cvv',
  'privateKey',
];

export const redactPaths = [
  ...sensitiveKeys,
  ...sensitiveKeys.map((key) => `*.${key}`),
  ...sensitiveKeys.map((key) => `*.*.${key}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-mercado-identity"]',
  'req.headers["x-mercado-identity-signature"]',
  'res.headers["set-cookie"]',
];

export interface LoggerOptions {
  name: string;
  level?: string;
  destination?: DestinationStream;
}

/**
 * A JSON logger. While a request is being served, every line carries its `requestId` (taken from
 * the async context), including lines written by code that never saw the request.
 */
export function createLogger({ name, level = 'info', destination }: LoggerOptions): Logger {
  const options = {
    name,
    level,
    base: { service: name },
    redact: { paths: redactPaths, censor: '[redacted]' },
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const context = currentContext();
      return context ? { requestId: context.requestId } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
