import { randomUUID } from 'node:crypto';
import type { PaymentResult } from '@mercado/common/contract';
import { withTransaction, type Knex } from '@mercado/common/db';
import { isUniqueViolation } from '@mercado/common/errors';
import type { RefusalReason } from '../errors.js';
import { appendPaymentEvent } from '../data/events-repository.js';
import { addRefunded, findPaymentForUpdate } from '../data/payments-repository.js';
import {
  completeRefund,
  findRefund,
  insertPendingRefund,
  type RefundRow,
} from '../data/refunds-repository.js';
import type { PaymentsDeps } from './deps.js';
import { publishAgain, publishResult, refuse } from './results.js';

export interface RefundAsk {
  refundId: string;
  paymentId: string;
  /** The order the caller believes the payment is for; checked when given. */
  orderId?: string;
  /** A terminal reversing one of its own payments: the payment must be that terminal's. */
  terminalId?: string;
  /** The terminal's request id of that reversal, kept on the refund for the recovery. */
  terminalRequestId?: string;
  /** What to give back; all that is left when not given. */
  amountMinor?: number;
  reason: string;
  /**
   * Called in the transaction that records how the refund ended (refused, failed, refunded), so
   * what the caller keeps of it (a terminal's answer) commits with it or not at all.
   */
  settle?: (trx: Knex.Transaction, settlement: RefundSettlement) => Promise<void>;
}

/** How a refund ended, for RefundAsk's `settle`. */
export type RefundSettlement =
  | {
      kind: 'refunded';
      orderId: string | null;
      amountMinor: number;
      currency: string;
      transactionId: string;
      at: string;
    }
  | { kind: 'failed' }
  | { kind: 'refused'; reason: RefusalReason };

export type RefundAnswer =
  | { kind: 'refunded'; result: PaymentResult }
  | { kind: 'refused'; reason: RefusalReason }
  | { kind: 'repeated' }
  | { kind: 'pending' };

/** A refund recorded pending, its amount set aside on the payment: the processor is asked next. */
export interface ClaimedRefund {
  kind: 'claimed';
  /** Null for a terminal's walk-in payment: no order hears of its refunds. */
  orderId: string | null;
  amountMinor: number;
  currency: string;
  /** The payment's charge, which the processor refunds. */
  transactionId: string;
}

type Claim =
  | ClaimedRefund
  | { kind: 'refused'; reason: RefusalReason; orderId: string | null }
  | { kind: 'existing'; refund: RefundRow };

/**
 * Gives money back on a succeeded payment, once per refund id and never more than was captured.
 * The amount is set aside on the payment (under its row lock) before the processor is asked, so
 * two refunds of one payment can never both take the last of it; a processor failure puts it back.
 */
export async function refundPayment(deps: PaymentsDeps, ask: RefundAsk): Promise<RefundAnswer> {
  const claim = await claimRefund(deps, ask).catch(async (error: unknown) => {
    // The same refund claimed at the same moment elsewhere (a void from a cancellation and from
    // the payment's own completion): that one goes on, this one is a repeat.
    if (!isUniqueViolation(error, 'refunds_pkey')) throw error;
    return claimRefund(deps, ask);
  });

  if (claim.kind === 'existing') {
    return claim.refund.result ? { kind: 'repeated' } : { kind: 'pending' };
  }
  if (claim.kind === 'refused') {
    if (ask.terminalId) {
      // A terminal's reversal: answered to the terminal alone (no order asked for it).
      await withTransaction(deps.db, async function refuseReversal(trx) {
        await appendPaymentEvent(trx, {
          type: 'refund_refused',
          orderId: claim.orderId,
          terminalId: ask.terminalId,
          paymentId: claim.reason === 'unknown_payment' ? undefined : ask.paymentId,
          requestId: ask.refundId,
          reason: claim.reason,
        });
        await ask.settle?.(trx, { kind: 'refused', reason: claim.reason });
      });
      deps.log.info({ refundId: ask.refundId, reason: claim.reason }, 'reversal refused');
      return { kind: 'refused', reason: claim.reason };
    }
    // A payment id that is not a uuid never reaches here: the contract refuses it first.
    await refuse(
      deps.db,
      {
        orderId: claim.orderId ?? ask.paymentId,
        requestId: ask.refundId,
        paymentId: ask.paymentId,
        reason: claim.reason,
      },
      'refund_refused',
    );
    deps.log.info({ refundId: ask.refundId, reason: claim.reason }, 'refund refused');
    return { kind: 'refused', reason: claim.reason };
  }

  return askProcessor(deps, ask, claim);
}

/**
 * Asks the processor for a claimed refund (under its id, the processor's idempotency key: asked
 * again by the recovery, it refunds once) and records how it ended — unless another caller
 * recorded it first (a process slow past the recovery's patience, and the recovery).
 */
export async function askProcessor(
  deps: PaymentsDeps,
  ask: RefundAsk,
  claim: ClaimedRefund,
): Promise<RefundAnswer> {
  const outcome = await deps.processor
    .refund({
      refundId: ask.refundId,
      transactionId: claim.transactionId,
      amountMinor: claim.amountMinor,
      currency: claim.currency,
    })
    .catch(() => ({ refunded: false }) as const);

  const at = new Date().toISOString();
  if (!outcome.refunded) {
    const result: PaymentResult = {
      type: 'payment.refused',
      id: randomUUID(),
      requestId: ask.refundId,
      orderId: claim.orderId ?? ask.paymentId,
      paymentId: ask.paymentId,
      reason: 'refund_failed',
      at,
    };
    const recorded = await withTransaction(deps.db, async function releaseRefund(trx) {
      if (!(await completeRefund(trx, ask.refundId, { status: 'failed', result }))) return false;
      await addRefunded(trx, ask.paymentId, -claim.amountMinor);
      await appendPaymentEvent(trx, {
        type: 'refund_refused',
        orderId: claim.orderId,
        terminalId: ask.terminalId,
        paymentId: ask.paymentId,
        requestId: ask.refundId,
        reason: 'refund_failed',
      });
      // A terminal's reversal is answered to the terminal; the order's refunds to orders.
      if (!ask.terminalId && claim.orderId) await publishResult(trx, result);
      await ask.settle?.(trx, { kind: 'failed' });
      return true;
    });
    if (!recorded) return { kind: 'repeated' };
    deps.log.warn({ refundId: ask.refundId }, 'refund failed at the processor');
    return { kind: 'refused', reason: 'refund_failed' };
  }

  // Kept on the refund row (and published when the payment is an order's); a walk-in payment's
  // refund names its payment where an order would be.
  const result: PaymentResult = {
    type: 'payment.refunded',
    id: randomUUID(),
    requestId: ask.refundId,
    orderId: claim.orderId ?? ask.paymentId,
    paymentId: ask.paymentId,
    amountMinor: claim.amountMinor,
    currency: claim.currency,
    transactionId: outcome.transactionId,
    reason: ask.reason,
    at,
  };
  const recorded = await withTransaction(deps.db, async function recordRefund(trx) {
    const first = await completeRefund(trx, ask.refundId, {
      status: 'succeeded',
      transactionId: outcome.transactionId,
      result,
    });
    if (!first) return false;
    await appendPaymentEvent(trx, {
      type: 'payment_refunded',
      orderId: claim.orderId,
      terminalId: ask.terminalId,
      paymentId: ask.paymentId,
      requestId: ask.refundId,
      amountMinor: claim.amountMinor,
      currency: claim.currency,
      reason: ask.reason,
    });
    // Orders hears of every refund of an order's payment, a terminal's reversal included: the
    // order becomes (partially) refunded. A walk-in payment has no order to tell.
    if (claim.orderId) await publishResult(trx, result);
    await ask.settle?.(trx, {
      kind: 'refunded',
      orderId: claim.orderId,
      amountMinor: claim.amountMinor,
      currency: claim.currency,
      transactionId: outcome.transactionId,
      at,
    });
    return true;
  });
  if (!recorded) return { kind: 'repeated' };
  deps.log.info(
    { refundId: ask.refundId, paymentId: ask.paymentId, orderId: claim.orderId },
    'payment refunded',
  );
  return { kind: 'refunded', result };
}

/** Sets the amount aside on the payment and records the refund as pending, or says why not. */
function claimRefund(deps: PaymentsDeps, ask: RefundAsk): Promise<Claim> {
  return withTransaction(deps.db, async function claim(trx): Promise<Claim> {
    // The payment's lock first: a refund of it committed while this waited is then seen below
    // (each statement reads what is committed when it starts).
    const payment = await findPaymentForUpdate(trx, ask.paymentId);
    const existing = await findRefund(trx, ask.refundId);
    if (existing) {
      // A terminal's reversal is answered from its request's row; an order's refund here.
      if (existing.result && existing.order_id && !ask.terminalId) {
        await publishAgain(trx, existing.result);
      }
      return { kind: 'existing', refund: existing };
    }
    if (ask.terminalId !== undefined) {
      // A terminal reverses its own card-present payments, and no other's.
      if (!payment || payment.terminal_id !== ask.terminalId) {
        return { kind: 'refused', reason: 'unknown_payment', orderId: null };
      }
    } else if (
      !payment ||
      !payment.order_id ||
      payment.order_id !== (ask.orderId ?? payment.order_id)
    ) {
      return { kind: 'refused', reason: 'unknown_payment', orderId: ask.orderId ?? ask.paymentId };
    }
    const orderId = payment.order_id;
    if (payment.status !== 'succeeded' && payment.status !== 'refunded') {
      return { kind: 'refused', reason: 'payment_not_captured', orderId };
    }
    const left = payment.amount_minor - payment.refunded_minor;
    const amountMinor = ask.amountMinor ?? left;
    if (amountMinor <= 0 || amountMinor > left) {
      return { kind: 'refused', reason: 'refund_exceeds_captured', orderId };
    }
    await insertPendingRefund(trx, {
      id: ask.refundId,
      paymentId: payment.id,
      orderId,
      amountMinor,
      reason: ask.reason,
      terminalRequestId: ask.terminalId ? ask.terminalRequestId : undefined,
    });
    await addRefunded(trx, payment.id, amountMinor);
    return {
      kind: 'claimed',
      orderId,
      amountMinor,
      currency: payment.currency,
      transactionId: payment.transaction_id!,
    };
  });
}
