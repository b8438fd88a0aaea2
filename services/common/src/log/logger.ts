import { pino, type Logger, type DestinationStream } from 'pino';
import { currentContext } from './context.js';
import { redactSecrets } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  name: string;
  level?: string;
  destination?: DestinationStream;
}

/**
 * A JSON logger. While a request is being served, every line carries its `requestId` (taken from
 * the async context), including lines written by code that never saw the request. Passwords,
 * tokens, secrets, cookies and card data are censored at any depth of what is logged, even when a
 * caller logs an object carelessly (see redact.ts for exactly what). Bind ids to a child logger,
 * never objects: child bindings are written as they are.
 */
export function createLogger({ name, level = 'info', destination }: LoggerOptions): Logger {
  const options = {
    name,
    level,
    base: { service: name },
    formatters: {
      level: (label: string) => ({ level: label }),
      // pino merges the caller's object into the mixin's fresh one before this runs.
      log: redactSecrets,
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const context = currentContext();
      return context ? { requestId: context.requestId } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
