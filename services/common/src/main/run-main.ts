import { ConfigError } from '../config/config.js';
import { createLogger, type Logger } from '../log/logger.js';

/** What runMain hands to a process's `main`. */
export interface MainContext {
  /**
   * The process's logger, once main has made it: from then on a crash (an uncaught exception, an
   * unhandled rejection) is logged through it. Before that, through a plain JSON logger.
   */
  useLogger(log: Logger): void;
}

/**
 * The fields of a thrown value that are safe to log: never the whole object, whose own properties
 * (a client's options, a request's config) may hold a password or a token. Without a prototype,
 * pino's error serializer names it by `name` (it would say `Object`).
 */
function describeCrash(error: unknown): Record<string, unknown> {
  const safe = Object.create(null) as Record<string, unknown>;
  if (!(error instanceof Error)) return Object.assign(safe, { type: typeof error });
  const { code } = error as { code?: unknown };
  return Object.assign(safe, {
    name: error.name,
    message: error.message,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    stack: error.stack,
  });
}

/**
 * Runs a process's `main`. A bad configuration prints its one line and exits 2; any other startup
 * failure is printed without secrets (messages only) and exits 1.
 *
 * Once started, an uncaught exception or an unhandled promise rejection is logged as one `fatal`
 * line (the error's type, message, code and stack, never its other properties) and the process
 * exits 1 at once: its state is unknown, and the launcher (`npm start`) or Compose
 * (`restart: unless-stopped`) starts a fresh one. Node's default would print a bare stack trace to
 * stderr, outside the JSON log.
 */
export function runMain(main: (context: MainContext) => Promise<void>): void {
  let logger: Logger | undefined;
  let crashed = false;
  function crash(event: 'uncaught_exception' | 'unhandled_rejection', error: unknown) {
    // A second error while the first one is logged changes nothing: the process is ending.
    if (crashed) return;
    crashed = true;
    const log = logger ?? createLogger({ name: 'mercado' });
    log.fatal(
      { event, err: describeCrash(error) },
      event === 'uncaught_exception'
        ? 'uncaught exception; exiting'
        : 'unhandled promise rejection; exiting',
    );
    // pino flushes its destination synchronously on exit.
    process.exit(1);
  }
  process.on('uncaughtException', function onUncaughtException(error) {
    crash('uncaught_exception', error);
  });
  process.on('unhandledRejection', function onUnhandledRejection(reason) {
    crash('unhandled_rejection', reason);
  });

  main({
    useLogger(log) {
      logger = log;
    },
  }).catch(function startupFailed(error: unknown) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`startup failed: ${message}\n`);
    process.exit(1);
  });
}
