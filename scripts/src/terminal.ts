import { connectTerminal, sendRequest, type TerminalConnection } from './terminal/client.js';
import { encryptTestCard } from './terminal/cards.js';
import { parseInvocation, usage, type Invocation } from './terminal/commands.js';
import { TerminalError, UsageError } from './terminal/errors.js';
import { succeeded, summarizeOutcome } from './terminal/summary.js';

/**
 * `npm run terminal -- <command>`: a payment terminal on the command line, speaking the
 * conversation of services/payments/README.md ("Terminals") as a registered terminal. The answer
 * goes to stdout as one JSON line (for scripts), everything for a human to stderr.
 */
async function main(argv: string[]): Promise<number> {
  const invocation = parseInvocation(argv);
  const { command } = invocation;
  if (command.kind === 'help') {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const terminal = await connectTerminal({
    url: invocation.url,
    terminalId: invocation.terminalId,
    secret: invocation.secret,
    // The card reader reads the keys only: it is no request, so it says nothing of presence.
    presence: command.kind === 'request',
    onEvent: note,
  });
  const stop = () => void terminal.close().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    if (command.kind === 'card') {
      process.stdout.write(`${await encryptTestCard(await terminal.cardKeys(), command.card)}\n`);
      return 0;
    }
    return await request(terminal, invocation, command);
  } finally {
    await terminal.close();
  }
}

async function request(
  terminal: TerminalConnection,
  invocation: Invocation,
  command: Extract<Invocation['command'], { kind: 'request' }>,
): Promise<number> {
  const card =
    command.card === undefined
      ? ''
      : await encryptTestCard(await terminal.cardKeys(), command.card);
  const sent = command.build(card);
  // Before sending: another shell may abort it by this id while it is under way.
  note(`request ${sent.requestId} (${sent.type})`);
  const outcome = await sendRequest(terminal, sent, {
    timeoutMs: invocation.timeoutMs,
    onEvent: note,
  });
  process.stdout.write(`${JSON.stringify(outcome.answer)}\n`);
  note(summarizeOutcome(outcome));
  return succeeded(outcome) ? 0 : 1;
}

function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof TerminalError) {
      note(`terminal: ${error.message}`);
      if (error instanceof UsageError) note('run `npm run terminal -- --help` for the commands');
      process.exit(error.exitCode);
    }
    note(`terminal: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
