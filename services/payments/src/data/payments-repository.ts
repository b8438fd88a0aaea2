import { createHash } from 'node:crypto';
import type { Knex } from '@mercado/common/db';
import type { PaymentResult } from '@mercado/common/contract';
import { eventColumns, type PaymentEvent } from './events-repository.js';

export type PaymentStatus = 'requires_payment' | 'processing' | 'succeeded' | 'failed' | 'refunded';

export interface PaymentRow {
  id: string;
  /** Null for a terminal's walk-in payment only. */
  order_id: string | null;
  request_id: string;
  user_id: string | null;
  amount_minor: number;
  currency: string;
  status: PaymentStatus;
  method: 'card' | 'card_present';
  terminal_id: string | null;
  card_brand: string;
  card_last4: string;
  card_fingerprint: string;
  decline_code: string | null;
  transaction_id: string | null;
  refunded_minor: number;
  result: PaymentResult | null;
  created_at: Date;
  updated_at: Date;
}

export interface NewPayment {
  id: string;
  /** Null for a terminal's walk-in payment. */
  orderId: string | null;
  requestId: string;
  userId: string | null;
  /** A card-present payment's terminal. */
  terminalId?: string;
  amountMinor: number;
  currency: string;
  cardBrand: string;
  cardLast4: string;
  cardFingerprint: string;
}

export async function findPaymentByRequest(
  db: Knex | Knex.Transaction,
  orderId: string,
  requestId: string,
): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ order_id: orderId, request_id: requestId }).first();
}

/** The order's payment that is being processed or has succeeded, if any (at most one exists). */
export async function findLivePayment(
  db: Knex | Knex.Transaction,
  orderId: string,
): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments')
    .where({ order_id: orderId })
    .whereIn('status', ['processing', 'succeeded', 'refunded'])
    .first();
}

/**
 * In one query, what startPayment looks at beside the locked intent: this request's payment
 * (`same`) and the order's live one (`live`, as findLivePayment), which may be the same row.
 */
export async function findRequestOrLivePayment(
  trx: Knex.Transaction,
  orderId: string,
  requestId: string,
): Promise<{ same: PaymentRow | undefined; live: PaymentRow | undefined }> {
  const rows = await trx<PaymentRow>('payments')
    .where({ order_id: orderId })
    .andWhere((where) =>
      where.where({ request_id: requestId }).orWhereIn('status', [...liveStatuses]),
    );
  return {
    same: rows.find((row) => row.request_id === requestId),
    live: rows.find((row) => liveStatuses.includes(row.status)),
  };
}

const liveStatuses: readonly PaymentStatus[] = ['processing', 'succeeded', 'refunded'];

export async function findPayment(db: Knex, paymentId: string): Promise<PaymentRow | undefined> {
  return db<PaymentRow>('payments').where({ id: paymentId }).first();
}

export async function findPaymentForUpdate(
  trx: Knex.Transaction,
  paymentId: string,
): Promise<PaymentRow | undefined> {
  return trx<PaymentRow>('payments').where({ id: paymentId }).forUpdate().first();
}

/** Succeeded payments of an order with money left to give back, locked. */
export async function capturedPaymentsForUpdate(
  trx: Knex.Transaction,
  orderId: string,
): Promise<PaymentRow[]> {
  return trx<PaymentRow>('payments')
    .where({ order_id: orderId, status: 'succeeded' })
    .whereRaw('refunded_minor < amount_minor')
    .forUpdate();
}

/**
 * A part of a statement (a CTE, `name as (sql)`) that another repository's statement runs with its
 * own: changes that are made together or not at all, in one round trip.
 */
export interface NamedStatement {
  name: string;
  sql: string;
  bindings: readonly Knex.RawBinding[];
}

/** `name as (sql), …` and the parts' bindings, in order. */
export function withParts(parts: readonly NamedStatement[]): {
  sql: string;
  bindings: Knex.RawBinding[];
} {
  return {
    sql: parts.map((part) => `${part.name} as (${part.sql})`).join(',\n'),
    bindings: parts.flatMap((part) => part.bindings),
  };
}

/**
 * A statement prepared once per connection under a name of its text (node-postgres keeps it by
 * name): every payment runs these, and a statement of several CTEs costs Postgres more to parse
 * and plan than to run. The same text always gets the same name, so a variant is another one.
 */
export function prepared(sql: string): { name: string } {
  return { name: `payments_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}` };
}

/**
 * Inserts the payment as `processing`, and the audit's `event` in the same statement (a round
 * trip fewer on every payment's path; both or neither). Two unique indexes make this the last
 * guard: one payment per (order, request id) (`payments_request_once`) and one
 * processing-or-succeeded payment per order (`payments_one_live_per_order`); a violation is the
 * caller's to interpret. With `gate` (a terminal's request id taken, say), that runs first in the
 * same statement and the payment is inserted only if it returned a row: the gate's row, or
 * undefined when it returned none and nothing was inserted.
 */
export async function insertProcessingPayment<GateRow = unknown>(
  trx: Knex | Knex.Transaction,
  payment: NewPayment,
  event: PaymentEvent,
  gate?: NamedStatement,
): Promise<GateRow | undefined> {
  const parts = withParts(gate ? [gate] : []);
  const sql = `with ${gate ? `${parts.sql},` : ''} inserted as (
       insert into payments (id, order_id, request_id, user_id, amount_minor, currency, status,
                             card_brand, card_last4, card_fingerprint, method, terminal_id)
       select ?::uuid, ?::uuid, ?::text, ?::uuid, ?::bigint, ?::text, 'processing',
              ?::text, ?::text, ?::text, ?::text, ?::text ${gate ? `from ${gate.name}` : ''}
       returning id
     ), audited as (
       ${auditInsert} from inserted
     )
     select ${gate ? `${gate.name}.*` : 'inserted.id'} from ${gate ? `${gate.name}, ` : ''}inserted`;
  const { rows } = await trx
    .raw<{ rows: GateRow[] }>(sql, [
      ...parts.bindings,
      payment.id,
      payment.orderId,
      payment.requestId,
      payment.userId,
      payment.amountMinor,
      payment.currency,
      payment.cardBrand,
      payment.cardLast4,
      payment.cardFingerprint,
      payment.terminalId ? 'card_present' : 'card',
      payment.terminalId ?? null,
      ...auditValues(event),
    ])
    .options(prepared(sql));
  return rows[0];
}

/**
 * Appends `event` to the audit once per row of a CTE (none: no audit), as appendPaymentEvent
 * does; cast, since a parameter in a select list has no column to take its type from.
 */
const auditInsert = `insert into payment_events
       (type, order_id, payment_id, request_id, amount_minor, currency, reason, terminal_id)
     select ?::text, ?::uuid, ?::uuid, ?::text, ?::bigint, ?::text, ?::text, ?::text`;

function auditValues(event: PaymentEvent): Array<string | number | null> {
  const row = eventColumns(event);
  return [
    row.type,
    row.order_id,
    row.payment_id,
    row.request_id,
    row.amount_minor,
    row.currency,
    row.reason,
    row.terminal_id,
  ];
}

/** `result` is what was published to orders: none for a terminal's walk-in payment. */
export type PaymentOutcome =
  | { status: 'succeeded'; transactionId: string; result: PaymentResult | null }
  | { status: 'failed'; declineCode: string; result: PaymentResult | null };

/**
 * Records the outcome of a payment still `processing`, and the audit's `event` in the same
 * statement (a round trip fewer): the event is appended only when the update took. False when
 * the payment was no longer processing (another caller recorded its outcome first). `after` runs
 * in the same statement and may read the CTE `updated` (the payment's id when the update took:
 * `from updated`, `exists (select 1 from updated)`).
 */
export async function completePayment(
  trx: Knex | Knex.Transaction,
  paymentId: string,
  outcome: PaymentOutcome,
  event: PaymentEvent,
  parts: { after?: readonly NamedStatement[] } = {},
): Promise<boolean> {
  const after = withParts(parts.after ?? []);
  const sql = `with updated as (
       update payments
          set status = ?, transaction_id = ?, decline_code = ?, result = ?, updated_at = now()
        where id = ? and status = 'processing'
        returning id
     ) ${after.sql ? `, ${after.sql}` : ''}
     ${auditInsert} from updated`;
  const updated = await trx
    .raw<{ rowCount: number }>(sql, [
      outcome.status,
      outcome.status === 'succeeded' ? outcome.transactionId : null,
      outcome.status === 'failed' ? outcome.declineCode : null,
      outcome.result ? JSON.stringify(outcome.result) : null,
      paymentId,
      ...after.bindings,
      ...auditValues(event),
    ])
    .options(prepared(sql));
  return updated.rowCount === 1;
}

/**
 * Payments left `processing` for longer than `olderThanMs`: their process died between the row
 * and the processor's answer (the slowest answer is far shorter).
 */
export async function findAbandonedPayments(
  db: Knex,
  olderThanMs: number,
  limit: number,
): Promise<PaymentRow[]> {
  return db<PaymentRow>('payments')
    .where({ status: 'processing' })
    .where('updated_at', '<', db.raw('now() - make_interval(secs => ?)', [olderThanMs / 1000]))
    .orderBy('updated_at')
    .limit(limit);
}

/** Adds to (or, negative, takes back from) what was refunded; `refunded` once all of it is. */
export async function addRefunded(
  trx: Knex.Transaction,
  paymentId: string,
  deltaMinor: number,
): Promise<void> {
  await trx('payments')
    .where({ id: paymentId })
    .update({
      refunded_minor: trx.raw('refunded_minor + ?', [deltaMinor]),
      status: trx.raw(
        "case when refunded_minor + ? = amount_minor then 'refunded' else 'succeeded' end",
        [deltaMinor],
      ),
      updated_at: trx.fn.now(),
    });
}
