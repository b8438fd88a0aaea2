import { batches, type Batches, type Knex } from '@mercado/common/db';
import type { OutboxMessage } from '@mercado/common/mqtt';
import type { TerminalResult } from '@mercado/common/contract';
import { eventColumns, type PaymentEvent } from './events-repository.js';
import { paymentsOutbox } from './outbox.js';
import { prepared, type NewPayment } from './payments-repository.js';
import { requestIdLifetimeHours, type NewTerminalTransaction } from './terminals-repository.js';

/**
 * The two statements of a walk-in payment (services/payments/README.md, "Terminals"), each for
 * many payments at once: the payments that arrive together share one statement, one round trip
 * and one commit (the kit's `batches`). Each row's outcome is its own, as if it had run alone: a
 * request id already taken starts nothing, a payment found unusual when its outcome comes is left
 * for the caller's transaction. The rows travel as one JSON array, so that the statement's text,
 * prepared once per connection, is the same however many there are.
 */

/** A walk-in payment to start: its request id to take, its payment and its audit row. */
export interface WalkInStart {
  terminalId: string;
  /** The terminal's request id. */
  requestId: string;
  /** The request's own id (the payment's request id is `terminal-{claimId}`). */
  claimId: string;
  digest: string;
  payment: NewPayment;
  event: PaymentEvent;
}

/**
 * The started payment's terminal's open period (null when it has none yet); undefined when the
 * request id was taken and nothing was written.
 */
export type WalkInStarted = { openPeriodId: string | null } | undefined;

const startSql = `with input as (
       select * from jsonb_to_recordset(?::jsonb) as i (
         terminal_id text, request_id text, claim_id uuid, digest text, payment_id uuid,
         payment_request_id text, amount_minor bigint, currency text, card_brand text,
         card_last4 text, card_fingerprint text, audit jsonb)
     ), claimed as (
       insert into terminal_requests (terminal_id, request_id, id, kind, digest, state, payment_id)
       select terminal_id, request_id, claim_id, 'payment', digest, 'in_progress', payment_id
         from input
       on conflict (terminal_id, request_id) do update
          set id = excluded.id, kind = excluded.kind, digest = excluded.digest,
              state = excluded.state, payment_id = excluded.payment_id,
              refund_id = excluded.refund_id, result = excluded.result,
              created_at = now(), updated_at = now()
        where terminal_requests.created_at < now() - make_interval(hours => ${requestIdLifetimeHours})
       returning payment_id,
                 (select p.id from terminal_periods p
                   where p.terminal_id = terminal_requests.terminal_id and p.closed_at is null)
                   as open_period_id
     ), inserted as (
       insert into payments (id, order_id, request_id, user_id, amount_minor, currency, status,
                             card_brand, card_last4, card_fingerprint, method, terminal_id)
       select i.payment_id, null, i.payment_request_id, null, i.amount_minor, i.currency,
              'processing', i.card_brand, i.card_last4, i.card_fingerprint, 'card_present',
              i.terminal_id
         from input i join claimed c on c.payment_id = i.payment_id
       returning id
     ), audited as (
       ${auditFrom('inserted', 'inserted.id')}
     )
     select payment_id, open_period_id from claimed`;

/**
 * Takes each payment's request id and, where it did, inserts the payment as `processing` with its
 * audit row (a row's foreign keys are checked at the statement's end, when its payment is in).
 * A request id held by a request of the last 48 hours is taken; an older one is the terminal
 * reusing it, as nexo allows, and is replaced. No two starts may name the same request id.
 */
export async function startWalkIns(
  db: Knex,
  starts: readonly WalkInStart[],
): Promise<WalkInStarted[]> {
  const input = starts.map(({ terminalId, requestId, claimId, digest, payment, event }) => ({
    terminal_id: terminalId,
    request_id: requestId,
    claim_id: claimId,
    digest,
    payment_id: payment.id,
    payment_request_id: payment.requestId,
    amount_minor: payment.amountMinor,
    currency: payment.currency,
    card_brand: payment.cardBrand,
    card_last4: payment.cardLast4,
    card_fingerprint: payment.cardFingerprint,
    audit: eventColumns(event),
  }));
  const { rows } = await db
    .raw<{
      rows: Array<{ payment_id: string; open_period_id: string | null }>;
    }>(startSql, [JSON.stringify(input)])
    .options(prepared(startSql));
  const started = new Map(rows.map((row) => [row.payment_id, row.open_period_id]));
  return starts.map(({ payment }) =>
    started.has(payment.id) ? { openPeriodId: started.get(payment.id)! } : undefined,
  );
}

/** A walk-in payment's outcome, recorded if nothing unusual happened while it was charged. */
export interface WalkInOutcome {
  paymentId: string;
  terminalId: string;
  /** The terminal's request id. */
  requestId: string;
  /** The terminal's open period when the payment started. */
  periodId: string;
  outcome:
    { status: 'succeeded'; transactionId: string } | { status: 'failed'; declineCode: string };
  event: PaymentEvent;
  /** The terminal's answer, kept for a repeat. */
  answer: TerminalResult;
  transaction: NewTerminalTransaction;
  /** Queued when it is recorded: the answer, the transaction for users. */
  messages: readonly OutboxMessage[];
}

const recordSql = `with input as (
       select * from jsonb_to_recordset(?::jsonb) as i (
         payment_id uuid, terminal_id text, request_id text, period_id uuid, status text,
         transaction_id text, decline_code text, answer jsonb, transaction jsonb, messages jsonb,
         audit jsonb)
     ), request as (
       select r.terminal_id, r.request_id
         from terminal_requests r join input i using (terminal_id, request_id)
        where r.state = 'in_progress'
          for update of r
     ), period as (
       select p.id
         from terminal_periods p join input i on i.period_id = p.id and i.terminal_id = p.terminal_id
        where p.closed_at is null
          for share of p
     ), updated as (
       update payments
          set status = i.status, transaction_id = i.transaction_id, decline_code = i.decline_code,
              result = null, updated_at = now()
         from input i
        where payments.id = i.payment_id and payments.status = 'processing'
          and exists (select 1 from request r
                       where r.terminal_id = i.terminal_id and r.request_id = i.request_id)
          and exists (select 1 from period p where p.id = i.period_id)
       returning payments.id
     ), done as (
       select i.* from input i join updated on updated.id = i.payment_id
     ), answered as (
       update terminal_requests r
          set state = 'processed', result = done.answer, updated_at = now()
         from done
        where r.terminal_id = done.terminal_id and r.request_id = done.request_id
     ), recorded as (
       insert into terminal_transactions
         (id, terminal_id, period_id, kind, outcome, amount_minor, currency, transaction_id,
          payment_id, order_id, request_id, reason, card_brand, card_last4, at)
       select t.id, done.terminal_id, done.period_id, t.kind, t.outcome, t.amount_minor, t.currency,
              t.transaction_id, done.payment_id, null, done.request_id, t.reason, t.card_brand,
              t.card_last4, t.at
         from done, jsonb_to_record(done.transaction) as t (
           id uuid, kind text, outcome text, amount_minor bigint, currency text,
           transaction_id text, reason text, card_brand text, card_last4 text, at timestamptz)
     ), queued as (
       insert into ${paymentsOutbox.table} (topic, payload)
       select m.topic, m.payload::jsonb
         from done,
              rows from (jsonb_to_recordset(done.messages) as (topic text, payload text))
                with ordinality as m (topic, payload, n)
        order by done.payment_id, m.n
     ), audited as (
       ${auditFrom('done', 'done.payment_id')}
     )
     select payment_id from done`;

/**
 * Records each payment's outcome where nothing unusual happened while the processor answered:
 * its request still in progress (not aborted) and locked, the period open when it started still
 * open and share-locked, the payment still processing. Then the payment, its audit row, the
 * request's answer, the period's transaction and the messages are all written; for the others
 * nothing is (false), and recordTerminalOutcome's transaction sorts them out.
 */
export async function recordWalkIns(
  db: Knex,
  outcomes: readonly WalkInOutcome[],
): Promise<boolean[]> {
  const input = outcomes.map((walkIn) => ({
    payment_id: walkIn.paymentId,
    terminal_id: walkIn.terminalId,
    request_id: walkIn.requestId,
    period_id: walkIn.periodId,
    status: walkIn.outcome.status,
    transaction_id: walkIn.outcome.status === 'succeeded' ? walkIn.outcome.transactionId : null,
    decline_code: walkIn.outcome.status === 'failed' ? walkIn.outcome.declineCode : null,
    answer: walkIn.answer,
    transaction: transactionColumns(walkIn.transaction),
    messages: paymentsOutbox.rows(walkIn.messages),
    audit: eventColumns(walkIn.event),
  }));
  const { rows } = await db
    .raw<{ rows: Array<{ payment_id: string }> }>(recordSql, [JSON.stringify(input)])
    .options(prepared(recordSql));
  const recorded = new Set(rows.map((row) => row.payment_id));
  return outcomes.map((walkIn) => recorded.has(walkIn.paymentId));
}

function transactionColumns(transaction: NewTerminalTransaction) {
  return {
    id: transaction.id,
    kind: transaction.kind,
    outcome: transaction.outcome,
    amount_minor: transaction.amountMinor,
    currency: transaction.currency,
    transaction_id: transaction.transactionId ?? null,
    reason: transaction.reason ?? null,
    card_brand: transaction.cardBrand ?? null,
    card_last4: transaction.cardLast4 ?? null,
    at: transaction.at,
  };
}

/** The audit rows (each input row's `audit`, eventColumns') of the rows `from` kept. */
function auditFrom(from: string, paymentId: string): string {
  return `insert into payment_events
       (type, order_id, payment_id, request_id, amount_minor, currency, reason, terminal_id)
     select a.type, a.order_id, a.payment_id, a.request_id, a.amount_minor, a.currency, a.reason,
            a.terminal_id
       from input join ${from} on ${paymentId} = input.payment_id,
            jsonb_to_record(input.audit) as a (
              type text, order_id uuid, payment_id uuid, request_id text, amount_minor bigint,
              currency text, reason text, terminal_id text)`;
}

/** The walk-in statements as the service runs them: batched (PaymentsDeps' `walkIns`). */
export interface WalkInStatements {
  start: Batches<WalkInStart, WalkInStarted>;
  record: Batches<WalkInOutcome, boolean>;
}

export function walkInStatements(db: Knex): WalkInStatements {
  return {
    start: batches({
      run: (starts) => startWalkIns(db, starts),
      key: (start) => `${start.terminalId}\n${start.requestId}`,
    }),
    record: batches({ run: (outcomes) => recordWalkIns(db, outcomes) }),
  };
}
