import {
  dayTotals,
  lastTerminalTransactions,
  type DayTotalsRow,
  type TerminalTransactionRow,
} from '../data/terminal-transactions-repository.js';
import type { UsersDeps } from './deps.js';
import type { CurrencyTotals, TerminalActivity, TerminalTransactionView } from './terminal-view.js';

/** How many of a terminal's transactions its view shows. */
export const lastTransactionsShown = 5;

function toTransactionView(row: TerminalTransactionRow): TerminalTransactionView {
  return {
    id: row.id,
    kind: row.kind,
    outcome: row.outcome,
    amountMinor: Number(row.amount_minor),
    currency: row.currency,
    transactionId: row.transaction_id,
    orderId: row.order_id,
    cardBrand: row.card_brand,
    cardLast4: row.card_last4,
    reason: row.reason,
    at: row.at.toISOString(),
  };
}

function toCurrencyTotals(row: DayTotalsRow): CurrencyTotals {
  const approvedMinor = Number(row.approved_minor);
  const reversedMinor = Number(row.reversed_minor);
  return {
    currency: row.currency,
    approvedCount: row.approved_count,
    approvedMinor,
    declinedCount: row.declined_count,
    reversedCount: row.reversed_count,
    reversedMinor,
    netMinor: approvedMinor - reversedMinor,
  };
}

/**
 * The activity of every listed terminal, in two queries whatever their number: their newest
 * transactions, and their totals over today — the calendar day `deps.now()` falls on in
 * TERMINALS_TIME_ZONE. A terminal with none has no transactions and no totals.
 */
export async function terminalsActivity(
  deps: Pick<UsersDeps, 'db' | 'now' | 'terminalsTimeZone'>,
  terminalIds: readonly string[],
): Promise<(terminalId: string) => TerminalActivity> {
  const [last, totals] = await Promise.all([
    lastTerminalTransactions(deps.db, terminalIds, lastTransactionsShown),
    dayTotals(deps.db, terminalIds, { now: deps.now(), timeZone: deps.terminalsTimeZone }),
  ]);
  const activity = new Map<string, TerminalActivity>();
  const none = (): TerminalActivity => ({ lastTransactions: [], today: [] });
  const of = (terminalId: string) => {
    let found = activity.get(terminalId);
    if (!found) activity.set(terminalId, (found = none()));
    return found;
  };
  // Both come ordered (newest first; currency order) within each terminal.
  for (const row of last) of(row.terminal_id).lastTransactions.push(toTransactionView(row));
  for (const row of totals) of(row.terminal_id).today.push(toCurrencyTotals(row));
  return (terminalId) => activity.get(terminalId) ?? none();
}
