/**
 * Why the simulator stops without an answer to print, each with its exit code: the CLI's caller
 * (a shell script, the README's test) tells bad input from a broker it could not reach.
 */

/** Input the simulator refuses before connecting (an amount, a currency, a card, an option): 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly exitCode = 2;
}

/** The broker refused or dropped the terminal, or no answer came even to a status query: 3. */
export class TerminalError extends Error {
  override name = 'TerminalError';
  readonly exitCode = 3;
}
