import { findAbandonedPayments, findPayment } from '../data/payments-repository.js';
import { findAbandonedRefunds } from '../data/refunds-repository.js';
import type { PaymentsDeps } from './deps.js';
import { findTerminalRequestOfPayment } from '../data/terminals-repository.js';
import { recordOutcome } from './payments.js';
import { askProcessor } from './refunds.js';
import { failAbandonedReversals, recordTerminalOutcome, recoverReversal } from './terminals.js';

export interface RecoveryOptions {
  /** A payment `processing` for longer than this was abandoned by its process. */
  abandonedAfterMs: number;
  batchSize?: number;
}

/**
 * Settles payments whose process died between inserting them and recording the processor's
 * answer (left `processing`, they would keep their order from ever being paid): the processor is
 * asked what it answered that payment id — the approval or decline is recorded and published as
 * the charge itself would have — and one it never answered is declined `processing_error`, so the
 * order may be paid again. Returns how many were settled. Safe in every replica at once: only one
 * records each outcome.
 */
export async function recoverAbandonedPayments(
  deps: PaymentsDeps,
  { abandonedAfterMs, batchSize = 100 }: RecoveryOptions,
): Promise<number> {
  const abandoned = await findAbandonedPayments(deps.db, abandonedAfterMs, batchSize);
  let settled = 0;
  for (const payment of abandoned) {
    let known;
    try {
      known = await deps.processor.retrieve(payment.id);
    } catch (error) {
      // The processor cannot say: try again on the next pass rather than guess.
      deps.log.warn(
        { paymentId: payment.id, err: { message: (error as Error).message } },
        'abandoned payment not settled: the processor did not answer',
      );
      continue;
    }
    const outcome = known ?? { approved: false, declineCode: 'processing_error' as const };
    const processing = {
      id: payment.id,
      requestId: payment.request_id,
      amountMinor: payment.amount_minor,
      currency: payment.currency,
      cardBrand: payment.card_brand,
      cardLast4: payment.card_last4,
    };
    // A terminal's payment is settled with its terminal's answer and period.
    const request = payment.terminal_id
      ? await findTerminalRequestOfPayment(deps.db, payment.id)
      : undefined;
    if (payment.terminal_id && request) {
      await recordTerminalOutcome(
        deps,
        {
          ...processing,
          terminalId: payment.terminal_id,
          terminalRequestId: request.request_id,
          kind: request.kind === 'order_payment' ? 'order_payment' : 'payment',
          orderId: payment.order_id,
        },
        outcome,
      );
    } else {
      await recordOutcome(deps, { ...processing, orderId: payment.order_id! }, outcome);
    }
    settled++;
  }
  if (settled > 0) deps.log.warn({ settled }, 'abandoned payments settled');
  return settled + (await recoverAbandonedRefunds(deps, { abandonedAfterMs, batchSize }));
}

/**
 * Settles refunds whose process died between setting their amount aside and recording the
 * processor's answer (left `pending`, they would hold that amount back for ever, and orders would
 * wait for their result): the processor is asked again under the refund's id — its idempotency
 * key, so it refunds once — and the outcome is recorded and published as the refund itself would
 * have; a terminal's reversal is answered to its terminal. A reversal whose process died before
 * setting anything aside is answered `reversal_failed` (nothing was reversed). Returns how many
 * were settled; safe in every replica at once, as only the first records each.
 */
export async function recoverAbandonedRefunds(
  deps: PaymentsDeps,
  { abandonedAfterMs, batchSize = 100 }: RecoveryOptions,
): Promise<number> {
  const abandoned = await findAbandonedRefunds(deps.db, abandonedAfterMs, batchSize);
  let settled = 0;
  for (const refund of abandoned) {
    const payment = await findPayment(deps.db, refund.payment_id);
    if (!payment?.transaction_id) continue;
    const answer =
      refund.terminal_request_id && payment.terminal_id
        ? await recoverReversal(deps, refund, {
            ...payment,
            terminal_id: payment.terminal_id,
            transaction_id: payment.transaction_id,
          })
        : await askProcessor(
            deps,
            { refundId: refund.id, paymentId: payment.id, reason: refund.reason },
            {
              kind: 'claimed',
              orderId: refund.order_id,
              amountMinor: Number(refund.amount_minor),
              currency: payment.currency,
              transactionId: payment.transaction_id,
            },
          );
    if (answer.kind !== 'repeated') settled++;
  }
  settled += await failAbandonedReversals(deps, abandonedAfterMs, batchSize);
  if (settled > 0) deps.log.warn({ settled }, 'abandoned refunds settled');
  return settled;
}

/** Runs recoverAbandonedPayments every `intervalMs` (and once at start), until stopped. */
export function startPaymentRecovery(
  deps: PaymentsDeps,
  options: RecoveryOptions & { intervalMs: number },
): { name: string; stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  function pass() {
    running = recoverAbandonedPayments(deps, options)
      .catch((error: unknown) =>
        deps.log.error({ err: { message: (error as Error).message } }, 'payment recovery failed'),
      )
      .finally(() => {
        if (!stopped) timer = setTimeout(pass, options.intervalMs);
      });
  }
  pass();
  return {
    name: 'abandoned payment recovery',
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
