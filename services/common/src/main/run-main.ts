import { ConfigError } from '../config/config.js';

/**
 * Runs a process's `main`. A bad configuration prints its one line and exits 2; any other startup
 * failure is printed without secrets (messages only) and exits 1.
 */
export function runMain(main: () => Promise<void>): void {
  main().catch(function startupFailed(error: unknown) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`startup failed: ${message}\n`);
    process.exit(1);
  });
}
