import { findAbandonedPayments } from '../data/payments-repository.js';
import type { PaymentsDeps } from './deps.js';
import { findTerminalRequestOfPayment } from '../data/terminals-repository.js';
import { recordOutcome } from './payments.js';
import { recordTerminalOutcome } from './terminals.js';

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
