import { parseArgs } from 'node:util';
import type { TerminalRequest } from '@mercado/common/contract';
import { normalizeCurrency, toMinorUnits } from './amount.js';
import { approvingCard, testCard } from './cards.js';
import { defaultMqttUrl, defaultTimeoutMs, newRequestId } from './client.js';
import { UsageError } from './errors.js';

export const usage = `usage: npm run terminal -- <command> [options]

commands:
  pay --amount 12.50 [--currency EUR] [--card 4242424242424242]   a walk-in amount (major units)
  pay --code K7QM-2XWP [--card …]                                 an online order, by its pay code
  status <requestId>                                              what became of a request
  abort <requestId>                                               abort a payment until it is approved
  reverse <transactionId> [--amount 5.00] [--currency EUR]        give (part of) a payment back
  totals [--period <periodId>]                                    the open period's totals, or a closed one's
  close                                                           close the period (end of day)
  card [number]                                                   print a test card encrypted for payments

options:
  --url <mqtt://host:port>   the broker (MQTT_URL, else ${defaultMqttUrl})
  --id <terminalId>          the terminal (TERMINAL_ID)
  --secret <secret>          its secret, shown once at registration (TERMINAL_SECRET)
  --timeout <seconds>        wait this long for an answer, then ask its status (${defaultTimeoutMs / 1000})
  --request-id <id>          send under this request id instead of a new one (a repeat)

The answer is printed on stdout as one JSON line, a summary on stderr. Exit code 0: success;
1: a failure answer; 2: bad input; 3: the broker refused the terminal or nothing answered.`;

/**
 * What the command line asks for: a request to send (a payment's with `card`, the number it is
 * built with once encrypted for payments' key), a card to print, or the usage.
 */
export type Command =
  | {
      kind: 'request';
      requestId: string;
      card?: string;
      build(encryptedCard: string): TerminalRequest;
    }
  | { kind: 'card'; card: string }
  | { kind: 'help' };

export interface Invocation {
  command: Command;
  url: string;
  terminalId: string;
  secret: string;
  timeoutMs: number;
}

const options = {
  url: { type: 'string' },
  id: { type: 'string' },
  secret: { type: 'string' },
  amount: { type: 'string' },
  currency: { type: 'string' },
  card: { type: 'string' },
  code: { type: 'string' },
  period: { type: 'string' },
  timeout: { type: 'string' },
  'request-id': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<
  typeof parseArgs<{ options: typeof options; allowPositionals: true }>
>['values'];

/**
 * Reads the command line (and TERMINAL_ID, TERMINAL_SECRET, MQTT_URL): every refusal is a
 * UsageError naming what is wrong, before anything connects. The card is returned in clear:
 * it is encrypted once the terminal has payments' keys.
 */
export function parseInvocation(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Invocation {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  const base = {
    url: values.url ?? env.MQTT_URL ?? defaultMqttUrl,
    terminalId: values.id ?? env.TERMINAL_ID ?? '',
    secret: values.secret ?? env.TERMINAL_SECRET ?? '',
    timeoutMs: timeoutOf(values.timeout),
  };
  if (values.help || name === undefined || name === 'help') {
    return { ...base, command: { kind: 'help' } };
  }
  const command = commandOf(name, rest, values);
  if (!base.terminalId) throw new UsageError('no terminal: give --id or set TERMINAL_ID');
  if (!base.secret) throw new UsageError('no secret: give --secret or set TERMINAL_SECRET');
  return { ...base, command };
}

function timeoutOf(seconds: string | undefined): number {
  if (seconds === undefined) return defaultTimeoutMs;
  const value = Number(seconds);
  if (!/^\d+(\.\d+)?$/.test(seconds) || !(value > 0)) {
    throw new UsageError(`--timeout "${seconds}" is not a number of seconds`);
  }
  return Math.round(value * 1_000);
}

/** Positionals a command takes: none past its own, so a typo is never silently ignored. */
function takes(name: string, rest: string[], count: number, what: string): string | undefined {
  if (rest.length > count)
    throw new UsageError(`${name} takes ${what}; unexpected "${rest[count]}"`);
  return rest[0];
}

function only(name: string, values: Values, allowed: ReadonlyArray<keyof Values>): void {
  const given = (Object.keys(values) as Array<keyof Values>).filter(
    (key) =>
      values[key] !== undefined && !['url', 'id', 'secret', 'timeout', 'request-id'].includes(key),
  );
  const extra = given.filter((key) => !allowed.includes(key));
  if (extra.length > 0) throw new UsageError(`${name} takes no --${extra.join(', --')}`);
}

function commandOf(name: string, rest: string[], values: Values): Command {
  const requestId = values['request-id'] ?? newRequestId();
  if (!/^[\x21-\x7e]{1,100}$/.test(requestId)) {
    throw new UsageError('--request-id must be 1 to 100 visible ASCII characters');
  }
  switch (name) {
    case 'pay': {
      takes(name, rest, 0, 'no arguments');
      only(name, values, ['amount', 'currency', 'card', 'code']);
      const card = values.card ?? approvingCard;
      testCard(card);
      if ((values.amount === undefined) === (values.code === undefined)) {
        throw new UsageError(
          'pay takes --amount (a walk-in amount) or --code (an order), one of them',
        );
      }
      if (values.code !== undefined) {
        if (values.currency !== undefined)
          throw new UsageError('pay --code takes no --currency: the order has one');
        if (!/^[0-9A-Za-z-]{4,20}$/.test(values.code)) {
          throw new UsageError(`pay code "${values.code}" is not a pay code (K7QM-2XWP)`);
        }
        const payCode = values.code;
        return {
          kind: 'request',
          requestId,
          card,
          build: (encrypted) => ({
            type: 'terminal.order_payment_requested',
            requestId,
            payCode,
            card: encrypted,
          }),
        };
      }
      const currency = normalizeCurrency(values.currency ?? 'EUR');
      const amountMinor = toMinorUnits(values.amount!, currency);
      return {
        kind: 'request',
        requestId,
        card,
        build: (encrypted) => ({
          type: 'terminal.payment_requested',
          requestId,
          amountMinor,
          currency,
          card: encrypted,
        }),
      };
    }
    case 'status':
    case 'abort': {
      only(name, values, []);
      const ofRequestId = takes(name, rest, 1, 'one request id');
      if (ofRequestId === undefined || !/^[\x21-\x7e]{1,100}$/.test(ofRequestId)) {
        throw new UsageError(`${name} takes the request id of an earlier request`);
      }
      const type = name === 'status' ? 'terminal.status_requested' : 'terminal.abort_requested';
      return { kind: 'request', requestId, build: () => ({ type, requestId, ofRequestId }) };
    }
    case 'reverse': {
      only(name, values, ['amount', 'currency']);
      const transactionId = takes(name, rest, 1, 'one transaction id');
      if (transactionId === undefined || transactionId.length > 100) {
        throw new UsageError('reverse takes the transaction id of an approved payment (sbx_ch_…)');
      }
      const currency = normalizeCurrency(values.currency ?? 'EUR');
      const amount =
        values.amount === undefined ? {} : { amountMinor: toMinorUnits(values.amount, currency) };
      return {
        kind: 'request',
        requestId,
        build: () => ({
          type: 'terminal.reversal_requested',
          requestId,
          transactionId,
          ...amount,
          reason: 'customer_request',
        }),
      };
    }
    case 'totals':
    case 'close': {
      takes(name, rest, 0, 'no arguments');
      only(name, values, name === 'totals' ? ['period'] : []);
      if (values.period !== undefined && !/^[0-9a-f-]{36}$/i.test(values.period)) {
        throw new UsageError(`--period "${values.period}" is not a period id (a UUID)`);
      }
      const period = values.period === undefined ? {} : { periodId: values.period };
      return {
        kind: 'request',
        requestId,
        build: () => ({
          type: 'terminal.reconciliation_requested',
          requestId,
          action: name,
          ...period,
        }),
      };
    }
    case 'card': {
      only(name, values, []);
      const card = takes(name, rest, 1, 'at most one card number') ?? approvingCard;
      testCard(card);
      return { kind: 'card', card };
    }
    default:
      throw new UsageError(`unknown command "${name}"`);
  }
}
