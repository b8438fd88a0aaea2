/**
 * Waits for a condition to hold — a row, a message, a state — checking every 20 ms, and returns
 * what the check returned; throws naming `what` after `timeoutMs`. Tests wait for the event
 * itself this way, never for a fixed time. The bound only turns a wait that will never end into a
 * message naming it: a minute, far beyond what a loaded 2-core machine takes, and within tap's
 * two minutes per file.
 */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
