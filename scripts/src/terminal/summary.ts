import type { TerminalResult } from '@mercado/common/contract';
import { formatMinor } from './amount.js';
import type { RequestOutcome } from './client.js';

/**
 * Whether the request did what it asked: payments' `result`, read through a status query when
 * the simulator needed one — a payment recovered that way succeeded only if its first answer
 * did, and one never found did not happen at all. The CLI exits 0 for true, 1 for false.
 */
export function succeeded(outcome: RequestOutcome): boolean {
  if (outcome.status && outcome.answer === outcome.status) return false;
  return outcome.answer.result === 'success';
}

const money = (answer: Pick<TerminalResult, 'amountMinor' | 'currency'>) =>
  answer.amountMinor !== undefined && answer.currency
    ? formatMinor(answer.amountMinor, answer.currency)
    : undefined;

const cardOf = (answer: TerminalResult) =>
  answer.cardBrand && answer.cardLast4 ? `${answer.cardBrand} •••• ${answer.cardLast4}` : undefined;

const joined = (...parts: Array<string | undefined>) => parts.filter(Boolean).join(', ');

/** One line a cashier reads: what payments answered, in words and major units. */
export function summarize(answer: TerminalResult): string {
  if (answer.result === 'failure') {
    const what =
      answer.request === 'payment' || answer.request === 'order_payment' ? 'declined' : 'refused';
    const detail = joined(money(answer), cardOf(answer));
    return `${what}: ${answer.errorCondition ?? 'failure'}${detail ? ` (${detail})` : ''}`;
  }
  switch (answer.request) {
    case 'payment':
    case 'order_payment':
      return `approved: ${joined(
        money(answer),
        cardOf(answer),
        `transaction ${answer.transactionId}`,
        answer.orderId ? `order ${answer.orderId}` : undefined,
      )}`;
    case 'status':
      if (answer.state === 'processed' && answer.original) {
        return `${answer.ofRequestId}: processed — ${summarize(answer.original)}`;
      }
      return answer.state === 'in_progress'
        ? `${answer.ofRequestId}: in progress (its answer is on its way)`
        : `${answer.ofRequestId}: not found (it never arrived; sending it again is safe)`;
    case 'abort':
      return `aborted ${answer.ofRequestId}: it will not be charged`;
    case 'reversal':
      return `reversed: ${joined(
        money(answer),
        `of ${answer.reversedTransactionId}`,
        `reversal ${answer.transactionId}`,
      )}`;
    case 'reconciliation':
      return periodSummary(answer);
  }
}

function periodSummary(answer: TerminalResult): string {
  const period = answer.period;
  if (!period) return 'reconciliation: no period';
  const state = period.closedAt ? `closed ${period.closedAt}` : `open since ${period.openedAt}`;
  const totals = period.totals.map(
    (total) =>
      `${total.currency}: approved ${total.approved.count} (${formatMinor(total.approved.amountMinor, total.currency)}), ` +
      `declined ${total.declined.count} (${formatMinor(total.declined.amountMinor, total.currency)}), ` +
      `reversed ${total.reversed.count} (${formatMinor(total.reversed.amountMinor, total.currency)})`,
  );
  return `period ${period.periodId} (${state}): ${totals.length > 0 ? totals.join('; ') : 'nothing yet'}`;
}

/** The summary of an outcome: with the status query that recovered it, when one did. */
export function summarizeOutcome(outcome: RequestOutcome): string {
  if (!outcome.status) return summarize(outcome.answer);
  if (outcome.answer === outcome.status) return summarize(outcome.status);
  return `${summarize(outcome.answer)} (heard through a status query)`;
}
