import { randomUUID } from 'node:crypto';
import type { Card, PaymentRequested, PaymentResult } from '@mercado/common/contract';
import { withTransaction } from '@mercado/common/db';
import { isUniqueViolation } from '@mercado/common/errors';
import type { RefusalReason } from '../errors.js';
import {
  appendPaymentEvent,
  paymentEvent,
  type PaymentOfEvent,
} from '../data/events-repository.js';
import { findIntentLocked } from '../data/intents-repository.js';
import {
  completePayment,
  findLivePayment,
  findPaymentByRequest,
  findRequestOrLivePayment,
  insertProcessingPayment,
  type PaymentRow,
} from '../data/payments-repository.js';
import { cardFingerprint, detectBrand, lastFour } from './cards.js';
import type { PaymentsDeps } from './deps.js';
import type { ChargeOutcome } from './processor.js';
import { voidPayment } from './intents.js';
import { publishAgain, publishResult, refuse } from './results.js';

/**
 * What became of one delivery of a payment request:
 * - `charged`: this delivery tried the card (approved or declined: `result`);
 * - `repeated`: the request was tried before and its first result was published again;
 * - `in_progress`: the request is being tried by another delivery, whose result will come;
 * - `refused`: nothing was tried (`reason`).
 */
export type PaymentAnswer =
  | { kind: 'charged'; result: PaymentResult }
  | { kind: 'repeated'; result: PaymentResult }
  | { kind: 'in_progress' }
  | { kind: 'refused'; reason: RefusalReason };

type Start =
  | { kind: 'started'; paymentId: string; amountMinor: number; currency: string }
  | { kind: 'refused'; reason: RefusalReason }
  | { kind: 'existing'; payment: PaymentRow };

/**
 * One payment request: one attempt to charge the order's intent (never an amount from the
 * request), idempotent by (order, request id). The database is the last guard: the payment row is
 * inserted under unique indexes before the processor is asked, so concurrent deliveries of one
 * request charge once, and concurrent requests for one order cannot both be charged.
 */
export async function requestPayment(
  deps: PaymentsDeps,
  request: PaymentRequested,
): Promise<PaymentAnswer> {
  const { orderId, requestId } = request;
  // The lookup and the decryption (on libuv's threads) overlap: a repeat ignores the card.
  const [earlier, decrypted] = await Promise.all([
    findPaymentByRequest(deps.db, orderId, requestId),
    deps.keyring.decrypt(request.card),
  ]);
  if (earlier) return repeat(deps, earlier);

  if (!decrypted.ok) return refused(deps, request, decrypted.reason);
  const { card } = decrypted;

  const start = await startPayment(deps, request, card).catch(async (error: unknown) => {
    if (!isUniqueViolation(error)) throw error;
    // Another delivery of this request, or another request of this order, got there first.
    const same = await findPaymentByRequest(deps.db, orderId, requestId);
    if (same) return { kind: 'existing', payment: same } as const;
    const live = await findLivePayment(deps.db, orderId);
    return refusalForLive(live, requestId);
  });
  if (start.kind === 'existing') return repeat(deps, start.payment);
  if (start.kind === 'refused') return refused(deps, request, start.reason);

  const outcome: ChargeOutcome = await deps.processor
    .charge({
      paymentId: start.paymentId,
      amountMinor: start.amountMinor,
      currency: start.currency,
      card,
    })
    .catch(function processorFailed(error: unknown) {
      deps.log.error(
        { paymentId: start.paymentId, err: { message: (error as Error).message } },
        'the processor failed',
      );
      return { approved: false, declineCode: 'processing_error' } as const;
    });
  const result = await recordOutcome(
    deps,
    {
      id: start.paymentId,
      orderId,
      requestId,
      amountMinor: start.amountMinor,
      currency: start.currency,
      cardBrand: detectBrand(card.number).brand,
      cardLast4: lastFour(card.number),
    },
    outcome,
  );
  return { kind: 'charged', result };
}

/** What recordOutcome needs of a payment being processed. */
export interface ProcessingPayment {
  id: string;
  orderId: string;
  requestId: string;
  amountMinor: number;
  currency: string;
  cardBrand: string;
  cardLast4: string;
}

/**
 * Records the processor's answer for a payment still `processing`: its status, the audit, and
 * the result in the outbox, in one transaction; then voids an approval the order can no longer
 * take. Only one caller records a payment's outcome (the charge's own, or the recovery of an
 * abandoned one): the others get the result that was recorded.
 */
export async function recordOutcome(
  deps: PaymentsDeps,
  payment: ProcessingPayment,
  outcome: ChargeOutcome,
): Promise<PaymentResult> {
  const { orderId, requestId } = payment;
  const result: PaymentResult = {
    type: outcome.approved ? 'payment.approved' : 'payment.declined',
    id: randomUUID(),
    requestId,
    orderId,
    paymentId: payment.id,
    amountMinor: payment.amountMinor,
    currency: payment.currency,
    ...(outcome.approved
      ? { transactionId: outcome.transactionId }
      : { reason: outcome.declineCode }),
    cardBrand: payment.cardBrand,
    cardLast4: payment.cardLast4,
    at: new Date().toISOString(),
  };
  const recorded = await withTransaction(deps.db, async function recordAnswer(trx) {
    // Read under the intent's lock: a cancellation that committed first is seen here, and one
    // that comes later sees this payment succeeded.
    const intent = await findIntentLocked(trx, orderId);
    // Audited in the same statement, only if this caller completed it.
    const completed = await completePayment(
      trx,
      payment.id,
      outcome.approved
        ? { status: 'succeeded', transactionId: outcome.transactionId, result }
        : { status: 'failed', declineCode: outcome.declineCode, result },
      {
        type: outcome.approved ? 'payment_approved' : 'payment_declined',
        orderId,
        paymentId: payment.id,
        requestId,
        amountMinor: payment.amountMinor,
        currency: payment.currency,
        reason: outcome.approved ? undefined : outcome.declineCode,
      },
    );
    if (!completed) {
      const stored = await findPaymentByRequest(trx, orderId, requestId);
      return { result: stored!.result!, voidAs: undefined, lateApproval: outcome.approved };
    }
    await publishResult(trx, result);
    return {
      result,
      voidAs: outcome.approved ? (intent?.cancelled_reason ?? undefined) : undefined,
      lateApproval: false,
    };
  });
  deps.log.info(
    {
      orderId,
      requestId,
      paymentId: payment.id,
      outcome: recorded.result.type,
      reason: recorded.result.reason,
      recorded: recorded.result === result,
    },
    'payment processed',
  );
  // Approved for an order that was cancelled or expired meanwhile: the money goes back at once.
  if (recorded.voidAs) await voidPayment(deps, payment.id, recorded.voidAs);
  if (recorded.lateApproval && recorded.result.type !== 'payment.approved' && outcome.approved) {
    await giveBackCharge(deps, payment, outcome.transactionId, 'late_approval');
  }
  return recorded.result;
}

/** A charge the processor approved that nobody may keep: what giving it back needs. */
export type ChargeToGiveBack = PaymentOfEvent;

/**
 * Gives back at once, audited, a charge the processor approved that no one may keep: one approved
 * after payments had given it up as abandoned and declined it (`late_approval`), or a terminal's
 * payment approved after it was aborted (`aborted`). No card is left charged for a payment that
 * failed.
 */
export async function giveBackCharge(
  deps: PaymentsDeps,
  payment: ChargeToGiveBack,
  transactionId: string,
  reason: 'late_approval' | 'aborted',
): Promise<void> {
  const refunded = await deps.processor
    .refund({
      refundId: `${reason === 'aborted' ? 'abort' : 'late'}-${payment.id}`,
      transactionId,
      amountMinor: payment.amountMinor,
      currency: payment.currency,
    })
    .catch(() => ({ refunded: false }) as const);
  await deps.db.transaction((trx) =>
    appendPaymentEvent(
      trx,
      paymentEvent(refunded.refunded ? 'payment_refunded' : 'refund_refused', payment, reason),
    ),
  );
  deps.log.error(
    { paymentId: payment.id, orderId: payment.orderId, reason, refunded: refunded.refunded },
    'a charge approved that could not be kept: given back',
  );
}

/** Checks the intent and inserts the payment as processing, in one transaction. */
async function startPayment(
  deps: PaymentsDeps,
  request: PaymentRequested,
  card: Card,
): Promise<Start> {
  return withTransaction(deps.db, async function startAttempt(trx): Promise<Start> {
    const intent = await findIntentLocked(trx, request.orderId);
    // Another user's order is answered as an unknown one: no order id can be probed.
    if (!intent || intent.amount_minor === null || intent.user_id !== request.userId) {
      if (intent?.cancelled_reason) return { kind: 'refused', reason: 'order_not_payable' };
      return { kind: 'refused', reason: 'unknown_order' };
    }
    if (intent.cancelled_reason || intent.expires_at!.getTime() <= deps.now().getTime()) {
      return { kind: 'refused', reason: 'order_not_payable' };
    }
    // A delivery of this request that committed while this one decrypted, or the order's live
    // payment (one query, which reads what is committed when it starts).
    const { same, live } = await findRequestOrLivePayment(trx, request.orderId, request.requestId);
    if (same) return { kind: 'existing', payment: same };
    if (live) return refusalForLive(live, request.requestId);
    const paymentId = randomUUID();
    await insertProcessingPayment(
      trx,
      {
        id: paymentId,
        orderId: request.orderId,
        requestId: request.requestId,
        userId: request.userId,
        amountMinor: intent.amount_minor,
        currency: intent.currency!,
        cardBrand: detectBrand(card.number).brand,
        cardLast4: lastFour(card.number),
        cardFingerprint: cardFingerprint(card.number, deps.fingerprintKey),
      },
      {
        type: 'payment_started',
        orderId: request.orderId,
        paymentId,
        requestId: request.requestId,
        amountMinor: intent.amount_minor,
        currency: intent.currency!,
      },
    );
    return {
      kind: 'started',
      paymentId,
      amountMinor: intent.amount_minor,
      currency: intent.currency!,
    };
  });
}

/**
 * Why a request is refused beside the order's live payment. The refusal never names that payment:
 * orders keys its inbox by payment id, and this request's answer is not that payment's.
 */
function refusalForLive(live: PaymentRow | undefined, requestId: string): Start {
  if (live?.request_id === requestId) return { kind: 'existing', payment: live };
  // Gone between the violation and the read: it failed meanwhile; the caller may try again.
  if (!live || live.status === 'processing') {
    return { kind: 'refused', reason: 'payment_in_progress' };
  }
  return { kind: 'refused', reason: 'order_already_paid' };
}

/** A request tried before: its first result again (the same event), or nothing yet. */
async function repeat(deps: PaymentsDeps, payment: PaymentRow): Promise<PaymentAnswer> {
  const { result } = payment;
  if (!result) {
    deps.log.info(
      { orderId: payment.order_id, requestId: payment.request_id, paymentId: payment.id },
      'payment request repeated while in progress',
    );
    return { kind: 'in_progress' };
  }
  const queued = await deps.db.transaction((trx) => publishAgain(trx, result));
  deps.log.info(
    { orderId: payment.order_id, requestId: payment.request_id, paymentId: payment.id, queued },
    'payment request repeated: first result published again',
  );
  return { kind: 'repeated', result };
}

async function refused(
  deps: PaymentsDeps,
  request: PaymentRequested,
  reason: RefusalReason,
): Promise<PaymentAnswer> {
  await refuse(deps.db, { orderId: request.orderId, requestId: request.requestId, reason });
  deps.log.info(
    { orderId: request.orderId, requestId: request.requestId, reason },
    'payment request refused',
  );
  return { kind: 'refused', reason };
}
