import type { TerminalTransaction } from '@mercado/common/contract';
import type { Knex } from '@mercado/common/db';

/** A transaction as heard from payments (sql/users/0005_terminal_transactions.sql). */
export interface TerminalTransactionRow {
  id: string;
  terminal_id: string;
  kind: 'payment' | 'reversal';
  outcome: 'approved' | 'declined' | 'reversed';
  /** bigint: pg hands it over as a string. */
  amount_minor: string;
  currency: string;
  transaction_id: string | null;
  order_id: string | null;
  period_id: string;
  reason: string | null;
  card_brand: string | null;
  card_last4: string | null;
  at: Date;
  received_at: Date;
}

/** One terminal's totals in one currency over a day. */
export interface DayTotalsRow {
  terminal_id: string;
  currency: string;
  approved_count: number;
  approved_minor: string;
  declined_count: number;
  reversed_count: number;
  reversed_minor: string;
}

/**
 * Keeps a transaction event; false when its id was kept already (a redelivery, or the same event
 * published again): the row stays as it was first heard.
 */
export async function recordTerminalTransaction(
  db: Knex,
  event: TerminalTransaction,
): Promise<boolean> {
  const inserted = await db('terminal_transactions')
    .insert({
      id: event.id,
      terminal_id: event.terminalId,
      kind: event.kind,
      outcome: event.outcome,
      amount_minor: event.amountMinor,
      currency: event.currency,
      transaction_id: event.transactionId ?? null,
      order_id: event.orderId ?? null,
      period_id: event.periodId,
      reason: event.reason ?? null,
      card_brand: event.cardBrand ?? null,
      card_last4: event.cardLast4 ?? null,
      at: event.at,
    })
    .onConflict('id')
    .ignore()
    .returning('id');
  return inserted.length > 0;
}

/**
 * The newest `perTerminal` transactions of each of `terminalIds`, newest first within each, in one
 * query: a lateral subquery per listed terminal reads just its first rows of the (terminal_id, at
 * desc) index, however long its history (a window function over all of a terminal's rows would
 * read every one of them to rank them).
 */
export async function lastTerminalTransactions(
  db: Knex,
  terminalIds: readonly string[],
  perTerminal: number,
): Promise<TerminalTransactionRow[]> {
  if (terminalIds.length === 0) return [];
  const result = await db.raw<{ rows: TerminalTransactionRow[] }>(
    `select last.*
       from unnest(?::text[]) as listed (terminal_id)
       cross join lateral (
         select * from terminal_transactions
          where terminal_id = listed.terminal_id
          order by at desc, id desc
          limit ?
       ) last
      order by last.terminal_id, last.at desc, last.id desc`,
    [[...terminalIds], perTerminal],
  );
  return result.rows;
}

/**
 * Each of `terminalIds`' totals by currency over the calendar day that `now` falls on in
 * `timeZone` (local midnight to the next one, as Postgres's zone rules place them: 23 or 25 hours
 * across a DST change), in one grouped query on the same index.
 */
export async function dayTotals(
  db: Knex,
  terminalIds: readonly string[],
  day: { now: Date; timeZone: string },
): Promise<DayTotalsRow[]> {
  if (terminalIds.length === 0) return [];
  const result = await db.raw<{ rows: DayTotalsRow[] }>(
    `with local_day as (
       select (?::timestamptz at time zone ?)::date as date
     ),
     bounds as (
       select date::timestamp at time zone ? as starts,
              (date + 1)::timestamp at time zone ? as ends
         from local_day
     )
     select terminal_id, currency,
            count(*) filter (where outcome = 'approved')::int as approved_count,
            coalesce(sum(amount_minor) filter (where outcome = 'approved'), 0) as approved_minor,
            count(*) filter (where outcome = 'declined')::int as declined_count,
            count(*) filter (where outcome = 'reversed')::int as reversed_count,
            coalesce(sum(amount_minor) filter (where outcome = 'reversed'), 0) as reversed_minor
       from terminal_transactions
      where terminal_id = any(?::text[])
        and at >= (select starts from bounds)
        and at < (select ends from bounds)
      group by terminal_id, currency
      order by terminal_id, currency`,
    [day.now, day.timeZone, day.timeZone, day.timeZone, [...terminalIds]],
  );
  return result.rows;
}

/**
 * Whether Postgres knows the zone (Node's Intl checked it already, but their zone databases may
 * differ): an unknown one is 22023 `invalid_parameter_value`.
 */
export async function timeZoneKnown(db: Knex, timeZone: string): Promise<boolean> {
  try {
    await db.raw('select now() at time zone ?', [timeZone]);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === '22023') return false;
    throw error;
  }
}
