/**
 * The terminal simulator as a library, for tools that speak as many terminals (a benchmark):
 * connect as a registered terminal, encrypt a test card for payments' key, send requests and get
 * their answers as the protocol says (a timeout ends in a status query, never a blind resend).
 * `scripts/src/terminal.ts` is the command line on top of it.
 */
export {
  connectTerminal,
  sendRequest,
  newRequestId,
  defaultMqttUrl,
  defaultTimeoutMs,
  type TerminalConnection,
  type TerminalOptions,
  type SendOptions,
  type RequestOutcome,
} from './client.js';
export { approvingCard, encryptTestCard, testCard } from './cards.js';
export { formatMinor, minorUnitDigits, normalizeCurrency, toMinorUnits } from './amount.js';
export { succeeded, summarize, summarizeOutcome } from './summary.js';
export { TerminalError, UsageError } from './errors.js';
