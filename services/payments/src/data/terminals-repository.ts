import { randomUUID } from 'node:crypto';
import type { TerminalResult, TerminalTotals } from '@mercado/common/contract';
import type { Knex } from '@mercado/common/db';
import type { NamedStatement } from './payments-repository.js';

/** What a stored terminal request was (sql/payments/0003_terminals.sql). */
export type TerminalRequestKind =
  'payment' | 'order_payment' | 'abort' | 'reversal' | 'reconciliation';

export interface TerminalRequestRow {
  terminal_id: string;
  request_id: string;
  id: string;
  kind: TerminalRequestKind | null;
  digest: string | null;
  state: 'in_progress' | 'aborted' | 'processed';
  payment_id: string | null;
  refund_id: string | null;
  result: TerminalResult | null;
  created_at: Date;
  updated_at: Date;
}

/** How long a terminal's request id stays taken: nexo's ServiceID is unique over 48 hours. */
export const requestIdLifetimeHours = 48;

export async function findTerminalRequest(
  db: Knex | Knex.Transaction,
  terminalId: string,
  requestId: string,
): Promise<TerminalRequestRow | undefined> {
  return db<TerminalRequestRow>('terminal_requests')
    .where({ terminal_id: terminalId, request_id: requestId })
    .first();
}

export async function findTerminalRequestForUpdate(
  trx: Knex.Transaction,
  terminalId: string,
  requestId: string,
): Promise<TerminalRequestRow | undefined> {
  return trx<TerminalRequestRow>('terminal_requests')
    .where({ terminal_id: terminalId, request_id: requestId })
    .forUpdate()
    .first();
}

/**
 * Reversals in progress for longer than `olderThanMs` that no refund names: their process died
 * between taking the request id and setting the amount aside.
 */
export async function findAbandonedReversals(
  db: Knex,
  olderThanMs: number,
  limit: number,
): Promise<TerminalRequestRow[]> {
  return db('terminal_requests as r')
    .select<TerminalRequestRow[]>('r.*')
    .where('r.kind', 'reversal')
    .where('r.state', 'in_progress')
    .where('r.updated_at', '<', db.raw('now() - make_interval(secs => ?)', [olderThanMs / 1000]))
    .whereNotExists(
      db('refunds')
        .join('payments', 'payments.id', 'refunds.payment_id')
        .whereRaw('payments.terminal_id = r.terminal_id')
        .whereRaw('refunds.terminal_request_id = r.request_id'),
    )
    .orderBy('r.updated_at')
    .limit(limit);
}

export interface NewTerminalRequest {
  terminalId: string;
  requestId: string;
  /** The request's own id (random when not given). */
  id?: string;
  kind: TerminalRequestKind | null;
  digest: string | null;
  state: TerminalRequestRow['state'];
  paymentId?: string;
  refundId?: string;
  result?: TerminalResult;
}

/**
 * Takes the terminal's request id for this request, returning its row; undefined when the id is
 * taken (the caller reads the row that holds it). A row older than the id's lifetime is the
 * terminal's id being reused after 48 hours, as nexo allows: it is replaced.
 */
export async function claimTerminalRequest(
  trx: Knex.Transaction,
  request: NewTerminalRequest,
): Promise<TerminalRequestRow | undefined> {
  const { rows } = await trx.raw<{ rows: TerminalRequestRow[] }>(
    `insert into terminal_requests
       (terminal_id, request_id, id, kind, digest, state, payment_id, refund_id, result)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (terminal_id, request_id) do update
        set id = excluded.id, kind = excluded.kind, digest = excluded.digest,
            state = excluded.state, payment_id = excluded.payment_id,
            refund_id = excluded.refund_id, result = excluded.result,
            created_at = now(), updated_at = now()
      where terminal_requests.created_at < now() - make_interval(hours => ?)
     returning *`,
    [
      request.terminalId,
      request.requestId,
      request.id ?? randomUUID(),
      request.kind,
      request.digest,
      request.state,
      request.paymentId ?? null,
      request.refundId ?? null,
      request.result ? JSON.stringify(request.result) : null,
      requestIdLifetimeHours,
    ],
  );
  return rows[0];
}

/**
 * The statement (`attached`) that names the payment made for a request (insertProcessingPayment's
 * gate: the payment is inserted by the same statement, and foreign keys are checked at its end).
 */
export function attachPaymentStatement(
  terminalId: string,
  requestId: string,
  paymentId: string,
): NamedStatement {
  return {
    name: 'attached',
    sql: `update terminal_requests set payment_id = ?
           where terminal_id = ? and request_id = ?
       returning 1`,
    bindings: [paymentId, terminalId, requestId],
  };
}

/** Records the answer to a request: processed, with the result a repeat gets again. */
export async function completeTerminalRequest(
  trx: Knex.Transaction,
  terminalId: string,
  requestId: string,
  changes: { result: TerminalResult; paymentId?: string; refundId?: string },
): Promise<void> {
  await trx('terminal_requests')
    .where({ terminal_id: terminalId, request_id: requestId })
    .update({
      state: 'processed',
      result: JSON.stringify(changes.result),
      ...(changes.paymentId ? { payment_id: changes.paymentId } : {}),
      ...(changes.refundId ? { refund_id: changes.refundId } : {}),
      updated_at: trx.fn.now(),
    });
}

/**
 * completeTerminalRequest as a statement (`answered`) for completePayment's `after`: the request
 * is recorded processed only if the payment's outcome was (the CTE `updated` has its row).
 */
export function completeTerminalRequestStatement(
  terminalId: string,
  requestId: string,
  result: TerminalResult,
): NamedStatement {
  return {
    name: 'answered',
    sql: `update terminal_requests
             set state = 'processed', result = ?, updated_at = now()
           where terminal_id = ? and request_id = ? and exists (select 1 from updated)`,
    bindings: [JSON.stringify(result), terminalId, requestId],
  };
}

/** Marks a payment request under way as aborted: its charge, when it returns, is given back. */
export async function abortTerminalRequest(
  trx: Knex.Transaction,
  terminalId: string,
  requestId: string,
): Promise<void> {
  await trx('terminal_requests')
    .where({ terminal_id: terminalId, request_id: requestId, state: 'in_progress' })
    .update({ state: 'aborted', updated_at: trx.fn.now() });
}

export interface TerminalPeriodRow {
  id: string;
  terminal_id: string;
  opened_at: Date;
  closed_at: Date | null;
}

/**
 * The terminal's open period, share-locked so that closing it (which locks it for update) waits
 * for the transactions being recorded in it; opened when the terminal has none.
 */
export async function openPeriod(
  trx: Knex.Transaction,
  terminalId: string,
  lock: 'share' | 'update' = 'share',
): Promise<TerminalPeriodRow> {
  for (;;) {
    const query = trx<TerminalPeriodRow>('terminal_periods')
      .where({ terminal_id: terminalId })
      .whereNull('closed_at');
    const open = await (lock === 'share' ? query.forShare() : query.forUpdate()).first();
    if (open) return open;
    // None yet, or it was closed while this waited for it: open one (or find the one another
    // transaction opened meanwhile, on the next turn).
    await trx.raw(
      `insert into terminal_periods (id, terminal_id) values (?, ?)
       on conflict (terminal_id) where closed_at is null do nothing`,
      [randomUUID(), terminalId],
    );
  }
}

export async function findPeriod(
  db: Knex | Knex.Transaction,
  terminalId: string,
  periodId: string,
): Promise<TerminalPeriodRow | undefined> {
  return db<TerminalPeriodRow>('terminal_periods')
    .where({ id: periodId, terminal_id: terminalId })
    .first();
}

/** Closes the open period (locked by the caller) and opens the next one. */
export async function closePeriod(
  trx: Knex.Transaction,
  period: TerminalPeriodRow,
): Promise<TerminalPeriodRow> {
  const [closed] = await trx<TerminalPeriodRow>('terminal_periods')
    .where({ id: period.id })
    .update({ closed_at: trx.fn.now() })
    .returning('*');
  await trx('terminal_periods').insert({ id: randomUUID(), terminal_id: period.terminal_id });
  return closed!;
}

export interface NewTerminalTransaction {
  id: string;
  terminalId: string;
  kind: 'payment' | 'reversal';
  outcome: 'approved' | 'declined' | 'reversed';
  amountMinor: number;
  currency: string;
  transactionId?: string | undefined;
  paymentId: string;
  orderId?: string | undefined;
  requestId: string;
  reason?: string | undefined;
  cardBrand?: string | undefined;
  cardLast4?: string | undefined;
  at: string;
}

/**
 * Records a transaction in a period: `periodId`, or — `'open'` — the terminal's open period,
 * share-locked in the same statement as openPeriod locks it (closing it waits for this
 * transaction). The period's id; undefined when the terminal has no open period (the caller opens
 * one with openPeriod and records the transaction in it).
 */
export async function insertTerminalTransaction(
  trx: Knex.Transaction,
  transaction: NewTerminalTransaction,
  periodId: string | 'open',
): Promise<string | undefined> {
  const period =
    periodId === 'open'
      ? 'select id from terminal_periods where terminal_id = ? and closed_at is null for share'
      : 'select ?::uuid as id';
  const insert = transactionInsert(transaction);
  const { rows } = await trx.raw<{ rows: Array<{ period_id: string }> }>(
    `with period as (${period}) ${insert.sql} returning period_id`,
    [periodId === 'open' ? transaction.terminalId : periodId, ...insert.bindings],
  );
  return rows[0]?.period_id;
}

/** The insert of a transaction into the CTE `period`'s period (`period.id`). */
function transactionInsert(transaction: NewTerminalTransaction): {
  sql: string;
  bindings: Knex.RawBinding[];
} {
  return {
    sql: `insert into terminal_transactions
       (id, terminal_id, period_id, kind, outcome, amount_minor, currency, transaction_id,
        payment_id, order_id, request_id, reason, card_brand, card_last4, at)
     select ?::uuid, ?::text, period.id, ?::text, ?::text, ?::bigint, ?::text, ?::text,
            ?::uuid, ?::uuid, ?::text, ?::text, ?::text, ?::text, ?::timestamptz
       from period`,
    bindings: [
      transaction.id,
      transaction.terminalId,
      transaction.kind,
      transaction.outcome,
      transaction.amountMinor,
      transaction.currency,
      transaction.transactionId ?? null,
      transaction.paymentId,
      transaction.orderId ?? null,
      transaction.requestId,
      transaction.reason ?? null,
      transaction.cardBrand ?? null,
      transaction.cardLast4 ?? null,
      transaction.at,
    ],
  };
}

/** A period's totals by currency: count and sum of what was approved, declined and reversed. */
export async function periodTotals(
  db: Knex | Knex.Transaction,
  periodId: string,
): Promise<TerminalTotals[]> {
  const rows = await db('terminal_transactions')
    .where({ period_id: periodId })
    .groupBy('currency', 'outcome')
    .orderBy('currency')
    .select(
      'currency',
      'outcome',
      db.raw('count(*)::int as count'),
      db.raw('sum(amount_minor)::bigint as amount_minor'),
    );
  const byCurrency = new Map<string, TerminalTotals>();
  for (const row of rows as Array<{
    currency: string;
    outcome: 'approved' | 'declined' | 'reversed';
    count: number;
    amount_minor: string | number;
  }>) {
    const totals = byCurrency.get(row.currency) ?? {
      currency: row.currency,
      approved: { count: 0, amountMinor: 0 },
      declined: { count: 0, amountMinor: 0 },
      reversed: { count: 0, amountMinor: 0 },
    };
    totals[row.outcome] = { count: row.count, amountMinor: Number(row.amount_minor) };
    byCurrency.set(row.currency, totals);
  }
  return [...byCurrency.values()];
}

/** The terminal's approved card-present payment with this processor transaction id. */
export async function findTerminalPaymentByTransaction(
  db: Knex | Knex.Transaction,
  terminalId: string,
  transactionId: string,
): Promise<{ id: string; order_id: string | null } | undefined> {
  return db('payments')
    .where({ terminal_id: terminalId, transaction_id: transactionId, method: 'card_present' })
    .first('id', 'order_id');
}

/** The terminal request a payment was made for (a terminal's payment being recovered). */
export async function findTerminalRequestOfPayment(
  db: Knex,
  paymentId: string,
): Promise<TerminalRequestRow | undefined> {
  return db<TerminalRequestRow>('terminal_requests').where({ payment_id: paymentId }).first();
}
