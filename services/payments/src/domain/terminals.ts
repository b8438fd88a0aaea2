import { createHash, randomUUID } from 'node:crypto';
import {
  topics,
  type Card,
  type PaymentResult,
  type TerminalAbortRequested,
  type TerminalOrderPaymentRequested,
  type TerminalPaymentRequested,
  type TerminalReconciliationRequested,
  type TerminalRequest,
  type TerminalResult,
  type TerminalReversalRequested,
  type TerminalStatusRequested,
  type TerminalTransaction,
} from '@mercado/common/contract';
import { withTransaction, type Knex } from '@mercado/common/db';
import { isUniqueViolation } from '@mercado/common/errors';
import type { OutboxMessage } from '@mercado/common/mqtt';
import type { TerminalCondition } from '../errors.js';
import { appendPaymentEvent, paymentEvent, type PaymentEvent } from '../data/events-repository.js';
import { findIntentLocked, findIntentsByPayCodeLocked } from '../data/intents-repository.js';
import { isQueued, paymentsOutbox } from '../data/outbox.js';
import {
  completePayment,
  findLivePayment,
  insertProcessingPayment,
  type NewPayment,
  type PaymentOutcome,
} from '../data/payments-repository.js';
import type { RefundRow } from '../data/refunds-repository.js';
import {
  abortTerminalRequest,
  attachPaymentStatement,
  claimTerminalRequest,
  closePeriod,
  completeTerminalRequest,
  completeTerminalRequestStatement,
  findPeriod,
  findTerminalPaymentByTransaction,
  findTerminalRequest,
  findAbandonedReversals,
  findTerminalRequestForUpdate,
  insertTerminalTransaction,
  openPeriod,
  periodTotals,
  requestIdLifetimeHours,
  type NewTerminalTransaction,
  type TerminalPeriodRow,
  type TerminalRequestKind,
  type TerminalRequestRow,
} from '../data/terminals-repository.js';
import { cardFingerprint, detectBrand, lastFour } from './cards.js';
import type { PaymentsDeps } from './deps.js';
import { voidPayment } from './intents.js';
import { giveBackCharge } from './payments.js';
import type { ChargeOutcome } from './processor.js';
import { askProcessor, refundPayment, type RefundAnswer, type RefundAsk } from './refunds.js';
import { resultMessage } from './results.js';

/**
 * The terminal conversation (services/payments/README.md, "Terminals"), modelled on nexo
 * Sale-to-POI as Adyen's Terminal API speaks it: every request carries the terminal's own request
 * id, and every answer on `terminals/{id}/results` says `success` or `failure` with a stable
 * `errorCondition`. Requests that change something (payments, aborts, reversals, closing a period)
 * are kept by (terminal, request id): a repeat gets the first answer again, never a second charge.
 * Status queries and totals are reads, answered afresh.
 *
 * Returns the answer given (undefined when the request is still being processed by another
 * delivery, whose answer will come).
 */
export async function handleTerminalRequest(
  deps: PaymentsDeps,
  terminalId: string,
  request: TerminalRequest,
): Promise<TerminalResult | undefined> {
  switch (request.type) {
    case 'terminal.payment_requested':
    case 'terminal.order_payment_requested':
      return pay(deps, terminalId, request);
    case 'terminal.status_requested':
      return status(deps, terminalId, request);
    case 'terminal.abort_requested':
      return abort(deps, terminalId, request);
    case 'terminal.reversal_requested':
      return reverse(deps, terminalId, request);
    case 'terminal.reconciliation_requested':
      return reconcile(deps, terminalId, request);
  }
}

type AnswerFields = Omit<TerminalResult, 'type' | 'id' | 'requestId' | 'request' | 'at'>;

function answer(
  requestId: string,
  request: TerminalResult['request'],
  fields: AnswerFields,
): TerminalResult {
  return {
    type: 'terminal.result',
    id: randomUUID(),
    requestId,
    request,
    ...fields,
    at: new Date().toISOString(),
  };
}

const failure = (errorCondition: TerminalCondition | string): AnswerFields => ({
  result: 'failure',
  errorCondition,
});

/**
 * Queues an answer for the terminal, in the transaction that decided it, with the other messages
 * that transaction sends (one insert, one round trip).
 */
async function queueAnswer(
  trx: Knex.Transaction,
  terminalId: string,
  result: TerminalResult,
  others: readonly OutboxMessage[] = [],
): Promise<void> {
  await paymentsOutbox.insert(trx, [...others, answerMessage(terminalId, result)]);
}

/** An answer as the outbox message on `terminals/{terminalId}/results`. */
function answerMessage(terminalId: string, result: TerminalResult): OutboxMessage {
  return { topic: 'terminalResults', params: { terminalId }, payload: result };
}

/** Answers a read (status, totals): nothing kept but the answer on its way. */
async function answerRead(
  deps: PaymentsDeps,
  terminalId: string,
  result: TerminalResult,
): Promise<TerminalResult> {
  await deps.db.transaction((trx) => queueAnswer(trx, terminalId, result));
  return result;
}

/**
 * What a request is, without its card (a card encrypted again is other bytes for the same card):
 * a request id sent again with another request is refused, not answered with the first's answer.
 */
function digestOf(request: TerminalRequest): string {
  const rest: Record<string, unknown> = { ...request };
  delete rest.card;
  if (request.type === 'terminal.order_payment_requested') {
    rest.payCode = normalizePayCode(request.payCode) ?? request.payCode;
  }
  return createHash('sha256')
    .update(JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1))))
    .digest('hex');
}

/**
 * A pay code as a keypad or scanner gives it, as orders issued it: upper case, hyphens and spaces
 * dropped, and the letters Crockford's base32 reads as digits (I and L as 1, O as 0). Undefined
 * when it cannot be one.
 */
export function normalizePayCode(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[-\s]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
  return /^[0-9A-HJKMNP-TV-Z]{8}$/.test(code) ? code : undefined;
}

function isCurrent(row: TerminalRequestRow): boolean {
  return row.created_at.getTime() > Date.now() - requestIdLifetimeHours * 3_600_000;
}

/**
 * A request id the terminal used before: the first answer again (the same event, unless it is
 * still waiting in the outbox), nothing while the first is under way, or `request_id_reused` when
 * the id came with another request.
 */
async function repeat(
  deps: PaymentsDeps,
  terminalId: string,
  row: TerminalRequestRow,
  digest: string,
  kind: TerminalResult['request'],
  requestId: string,
): Promise<TerminalResult | undefined> {
  if (row.digest !== null && row.digest !== digest) {
    deps.log.info({ terminalId, requestId }, 'terminal request id reused for another request');
    return answerRead(deps, terminalId, answer(requestId, kind, failure('request_id_reused')));
  }
  const { result } = row;
  if (row.state !== 'processed' || !result) {
    deps.log.info({ terminalId, requestId }, 'terminal request repeated while in progress');
    return undefined;
  }
  const topic = topics.terminalResults.build({ terminalId });
  await deps.db.transaction(async (trx) => {
    if (!(await isQueued(trx, topic, result.id))) await queueAnswer(trx, terminalId, result);
  });
  deps.log.info({ terminalId, requestId }, 'terminal request repeated: first answer again');
  return result;
}

/**
 * Answers a request with a failure that is kept as its answer (a repeat gets it again); when the
 * request id was taken meanwhile, the repeat's answer instead.
 */
async function refuseKept(
  deps: PaymentsDeps,
  terminalId: string,
  request: { requestId: string; kind: TerminalRequestKind; digest: string },
  condition: TerminalCondition,
): Promise<TerminalResult | undefined> {
  const result = answer(request.requestId, request.kind, failure(condition));
  const kept = await withTransaction(deps.db, async function keepRefusal(trx) {
    const claimed = await claimTerminalRequest(trx, {
      terminalId,
      requestId: request.requestId,
      kind: request.kind,
      digest: request.digest,
      state: 'processed',
      result,
    });
    if (claimed) await queueAnswer(trx, terminalId, result);
    return claimed !== undefined;
  });
  if (kept) {
    deps.log.info(
      { terminalId, requestId: request.requestId, condition },
      'terminal request refused',
    );
    return result;
  }
  const row = await findTerminalRequest(deps.db, terminalId, request.requestId);
  return repeat(deps, terminalId, row!, request.digest, request.kind, request.requestId);
}

type PaymentRequest = TerminalPaymentRequested | TerminalOrderPaymentRequested;

type Start =
  | { kind: 'started'; payment: TerminalPayment }
  /** Refused, and the refusal kept as the request's answer. */
  | { kind: 'answered'; result: TerminalResult }
  /** Refused by the database's guard: rolled back, nothing kept yet. */
  | { kind: 'refused'; condition: TerminalCondition }
  | { kind: 'taken' };

/** A card-present payment being processed: what recording its outcome needs. */
export interface TerminalPayment {
  id: string;
  terminalId: string;
  /** The terminal's request id. */
  terminalRequestId: string;
  /** The payment's own request id (`terminal-{uuid}`), as orders sees it. */
  requestId: string;
  kind: 'payment' | 'order_payment';
  orderId: string | null;
  amountMinor: number;
  currency: string;
  cardBrand: string;
  cardLast4: string;
  /**
   * The terminal's open period when the payment started, if known: its outcome is recorded there
   * in one statement while that period stays open (recordWalkInOutcome).
   */
  periodId?: string;
}

/**
 * A card-present payment: of a walk-in amount, or of an order by its pay code (the order's
 * amount, never the terminal's). The same guards as an online payment hold — the payment row is
 * inserted under payments' unique indexes before the processor is asked — so an order paid online
 * and at a terminal at once is charged once and the other is refused.
 */
async function pay(
  deps: PaymentsDeps,
  terminalId: string,
  request: PaymentRequest,
): Promise<TerminalResult | undefined> {
  const kind = request.type === 'terminal.order_payment_requested' ? 'order_payment' : 'payment';
  const digest = digestOf(request);
  const keep = { requestId: request.requestId, kind, digest } as const;
  // No look-up of the request id first: taking it (or keeping a refusal under it) finds a
  // repeat, which then gets the first answer — a round trip fewer for every payment that is not one.
  const decrypted = await deps.keyring.decrypt(request.card);
  if (!decrypted.ok) return refuseKept(deps, terminalId, keep, decrypted.reason);
  const { card } = decrypted;
  if (
    request.type === 'terminal.payment_requested' &&
    !deps.terminalCurrencies.includes(request.currency)
  ) {
    return refuseKept(deps, terminalId, keep, 'unsupported_currency');
  }

  const start = await startPayment(deps, terminalId, request, digest, card).catch(
    async (error: unknown): Promise<Start> => {
      // Another payment of the order got there first (payments_one_live_per_order): this one
      // rolled back, and is refused in a transaction of its own.
      if (!isUniqueViolation(error, 'payments_one_live_per_order')) throw error;
      return { kind: 'refused', condition: 'order_already_paid' };
    },
  );
  if (start.kind === 'taken') {
    const row = await findTerminalRequest(deps.db, terminalId, request.requestId);
    return repeat(deps, terminalId, row!, digest, kind, request.requestId);
  }
  if (start.kind === 'answered') {
    deps.log.info(
      { terminalId, requestId: request.requestId, condition: start.result.errorCondition },
      'terminal request refused',
    );
    return start.result;
  }
  if (start.kind === 'refused') {
    return refuseKept(deps, terminalId, keep, await liveCondition(deps, request, start.condition));
  }

  const { payment } = start;
  const outcome: ChargeOutcome = await deps.processor
    .charge({
      paymentId: payment.id,
      amountMinor: payment.amountMinor,
      currency: payment.currency,
      card,
    })
    .catch(function processorFailed(error: unknown) {
      deps.log.error(
        { paymentId: payment.id, err: { message: (error as Error).message } },
        'the processor failed',
      );
      return { approved: false, declineCode: 'processing_error' } as const;
    });
  return recordTerminalOutcome(deps, payment, outcome);
}

/** For a refusal beside the order's live payment: paid already, or still being paid. */
async function liveCondition(
  deps: PaymentsDeps,
  request: PaymentRequest,
  condition: TerminalCondition,
): Promise<TerminalCondition> {
  if (condition !== 'order_already_paid' || request.type !== 'terminal.order_payment_requested') {
    return condition;
  }
  const code = normalizePayCode(request.payCode);
  const intent = code
    ? await deps.db('intents').where({ pay_code: code }).first('order_id')
    : undefined;
  const live = intent ? await findLivePayment(deps.db, intent.order_id as string) : undefined;
  return live?.status === 'processing' ? 'payment_in_progress' : 'order_already_paid';
}

/**
 * Takes the request id, checks the order's intent (for a pay code) and inserts the payment as
 * processing, in one transaction; a refusal is kept as the request's answer in the same one. A
 * walk-in amount needs no intent: its request id is taken and its payment inserted in a single
 * statement, with no transaction around it (both or neither).
 */
async function startPayment(
  deps: PaymentsDeps,
  terminalId: string,
  request: PaymentRequest,
  digest: string,
  card: Card,
): Promise<Start> {
  if (request.type === 'terminal.payment_requested') {
    const claimId = randomUUID();
    const started = processingPayment(
      deps,
      terminalId,
      request.requestId,
      'payment',
      claimId,
      card,
      {
        orderId: null,
        userId: null,
        amountMinor: request.amountMinor,
        currency: request.currency,
      },
    );
    const claimed = await deps.walkIns.start.submit({
      terminalId,
      requestId: request.requestId,
      claimId,
      digest,
      payment: started.row,
      event: started.event,
    });
    if (!claimed) return { kind: 'taken' };
    const { openPeriodId: periodId } = claimed;
    return { kind: 'started', payment: { ...started.payment, ...(periodId ? { periodId } : {}) } };
  }
  const kind = 'order_payment';
  return withTransaction(deps.db, async function startTerminalPayment(trx): Promise<Start> {
    const claimed = await claimTerminalRequest(trx, {
      terminalId,
      requestId: request.requestId,
      kind,
      digest,
      state: 'in_progress',
    });
    if (!claimed) return { kind: 'taken' };

    const code = normalizePayCode(request.payCode);
    const intents = code ? await findIntentsByPayCodeLocked(trx, code) : [];
    const intent = intents.length === 1 ? intents[0] : undefined;
    const refuse = async (condition: TerminalCondition): Promise<Start> => {
      const result = answer(request.requestId, kind, failure(condition));
      await completeTerminalRequest(trx, terminalId, request.requestId, { result });
      await queueAnswer(trx, terminalId, result);
      return { kind: 'answered', result };
    };
    if (!intent || intent.amount_minor === null) {
      return intent?.cancelled_reason ? refuse('order_not_payable') : refuse('unknown_pay_code');
    }
    if (intent.cancelled_reason || intent.expires_at!.getTime() <= deps.now().getTime()) {
      return refuse('order_not_payable');
    }
    const live = await findLivePayment(trx, intent.order_id);
    if (live)
      return refuse(live.status === 'processing' ? 'payment_in_progress' : 'order_already_paid');
    const started = processingPayment(deps, terminalId, request.requestId, kind, claimed.id, card, {
      orderId: intent.order_id,
      userId: intent.user_id,
      amountMinor: intent.amount_minor,
      currency: intent.currency!,
    });
    // The request names its payment in the same statement as the payment is inserted.
    await insertProcessingPayment(
      trx,
      started.row,
      started.event,
      attachPaymentStatement(terminalId, request.requestId, started.payment.id),
    );
    return { kind: 'started', payment: started.payment };
  });
}

/** A terminal's payment about to be inserted as processing: its row, its audit, what recording it needs. */
function processingPayment(
  deps: PaymentsDeps,
  terminalId: string,
  terminalRequestId: string,
  kind: TerminalPayment['kind'],
  claimId: string,
  card: Card,
  owed: { orderId: string | null; userId: string | null; amountMinor: number; currency: string },
): { payment: TerminalPayment; row: NewPayment; event: PaymentEvent } {
  const payment: TerminalPayment = {
    id: randomUUID(),
    terminalId,
    terminalRequestId,
    requestId: `terminal-${claimId}`,
    kind,
    orderId: owed.orderId,
    amountMinor: owed.amountMinor,
    currency: owed.currency,
    cardBrand: detectBrand(card.number).brand,
    cardLast4: lastFour(card.number),
  };
  return {
    payment,
    row: {
      id: payment.id,
      orderId: owed.orderId,
      requestId: payment.requestId,
      userId: owed.userId,
      amountMinor: owed.amountMinor,
      currency: owed.currency,
      cardBrand: payment.cardBrand,
      cardLast4: payment.cardLast4,
      cardFingerprint: cardFingerprint(card.number, deps.fingerprintKey),
      terminalId,
    },
    event: paymentEvent('payment_started', payment, undefined),
  };
}

/**
 * Records the processor's answer for a terminal's payment still `processing` (its own charge, or
 * the recovery of one abandoned mid-charge): the payment, the audit, the period's transaction,
 * the terminal's answer and (for an order) the result orders applies, in one transaction. A
 * payment aborted while the processor answered is declined `aborted`, and an approval given back
 * at once. Only one caller records it: the others get the answer that was recorded. A walk-in
 * payment whose terminal's open period is known is first recorded in a single statement
 * (recordWalkInOutcome); the transaction is for whatever that statement finds unusual.
 */
export async function recordTerminalOutcome(
  deps: PaymentsDeps,
  payment: TerminalPayment,
  outcome: ChargeOutcome,
): Promise<TerminalResult | undefined> {
  const { terminalId } = payment;
  if (payment.orderId === null && payment.periodId) {
    const recorded = await recordWalkInOutcome(deps, payment, payment.periodId, outcome);
    if (recorded) {
      logTerminalOutcome(deps, payment, recorded);
      return recorded;
    }
  }
  const recorded = await withTransaction(deps.db, async function recordTerminalAnswer(trx) {
    const intent = payment.orderId ? await findIntentLocked(trx, payment.orderId) : undefined;
    const request = await findTerminalRequestForUpdate(trx, terminalId, payment.terminalRequestId);
    const aborted = request?.state === 'aborted';
    const decided = decide(payment, outcome, aborted);
    const { approved, declineCode, at } = decided;
    const orderResult: PaymentResult | null = payment.orderId
      ? {
          type: approved ? 'payment.approved' : 'payment.declined',
          id: randomUUID(),
          requestId: payment.requestId,
          orderId: payment.orderId,
          paymentId: payment.id,
          amountMinor: payment.amountMinor,
          currency: payment.currency,
          ...(decided.transactionId
            ? { transactionId: decided.transactionId }
            : { reason: declineCode! }),
          cardBrand: payment.cardBrand,
          cardLast4: payment.cardLast4,
          at,
        }
      : null;
    const result = paymentAnswer(payment, decided);
    // The payment, its audit and the request's answer in one statement: all of them, or none
    // when the payment was no longer processing.
    const completed = await completePayment(
      trx,
      payment.id,
      paymentOutcome(decided, orderResult),
      outcomeEvent(payment, decided),
      { after: [completeTerminalRequestStatement(terminalId, payment.terminalRequestId, result)] },
    );
    if (!completed) {
      return {
        result: request?.result ?? undefined,
        voidAs: undefined,
        giveBack: false,
        late: true,
      };
    }
    const messages: OutboxMessage[] = orderResult ? [resultMessage(orderResult)] : [];
    // An aborted payment is in no total: nothing was taken, or it is given back at once.
    if (!aborted) messages.push(await recordTransaction(trx, paymentTransaction(payment, decided)));
    await queueAnswer(trx, terminalId, result, messages);
    return {
      result,
      voidAs: approved ? (intent?.cancelled_reason ?? undefined) : undefined,
      giveBack: aborted && outcome.approved,
      late: false,
    };
  });
  logTerminalOutcome(deps, payment, recorded.result);
  // Approved for an order cancelled or expired meanwhile: the money goes back at once.
  if (recorded.voidAs) await voidPayment(deps, payment.id, recorded.voidAs);
  // Approved after it was aborted, or after it was given up as abandoned: given back.
  if (
    outcome.approved &&
    (recorded.giveBack || (recorded.late && recorded.result?.result !== 'success'))
  ) {
    await giveBackCharge(
      deps,
      payment,
      outcome.transactionId,
      recorded.giveBack ? 'aborted' : 'late_approval',
    );
  }
  return recorded.result;
}

/**
 * A walk-in payment's outcome in one statement, no transaction around it, when nothing unusual
 * happened while the processor answered: its request still in progress (not aborted) and locked,
 * the period open when it started still open and share-locked, the payment still processing —
 * then the payment, its audit, the request's answer, the period's transaction and the messages
 * (the answer, the transaction for users) are all written. Undefined when any of that did not
 * hold and nothing was written: recordTerminalOutcome's transaction sorts it out.
 */
async function recordWalkInOutcome(
  deps: PaymentsDeps,
  payment: TerminalPayment,
  periodId: string,
  outcome: ChargeOutcome,
): Promise<TerminalResult | undefined> {
  const { terminalId } = payment;
  const decided = decide(payment, outcome, false);
  const result = paymentAnswer(payment, decided);
  const transaction = paymentTransaction(payment, decided);
  const recorded = await deps.walkIns.record.submit({
    paymentId: payment.id,
    terminalId,
    requestId: payment.terminalRequestId,
    periodId,
    outcome: decided.transactionId
      ? { status: 'succeeded', transactionId: decided.transactionId }
      : { status: 'failed', declineCode: decided.declineCode! },
    event: outcomeEvent(payment, decided),
    answer: result,
    transaction,
    messages: [transactionMessage(transaction, periodId), answerMessage(terminalId, result)],
  });
  return recorded ? result : undefined;
}

/** What a terminal payment's outcome is: the processor's answer, unless it was aborted. */
interface Decided {
  aborted: boolean;
  approved: boolean;
  /** The processor's transaction, when approved. */
  transactionId: string | undefined;
  declineCode: string | undefined;
  at: string;
}

function decide(payment: TerminalPayment, outcome: ChargeOutcome, aborted: boolean): Decided {
  const approved = outcome.approved && !aborted;
  return {
    aborted,
    approved,
    transactionId: approved && outcome.approved ? outcome.transactionId : undefined,
    declineCode: aborted ? 'aborted' : outcome.approved ? undefined : outcome.declineCode,
    at: new Date().toISOString(),
  };
}

/** The terminal's answer to its payment request. */
function paymentAnswer(payment: TerminalPayment, decided: Decided): TerminalResult {
  return answer(payment.terminalRequestId, payment.kind, {
    result: decided.approved ? 'success' : 'failure',
    ...(decided.approved ? {} : { errorCondition: decided.declineCode! }),
    ...(decided.transactionId ? { transactionId: decided.transactionId } : {}),
    paymentId: payment.id,
    ...(payment.orderId ? { orderId: payment.orderId } : {}),
    amountMinor: payment.amountMinor,
    currency: payment.currency,
    cardBrand: payment.cardBrand,
    cardLast4: payment.cardLast4,
  });
}

function paymentOutcome(decided: Decided, orderResult: PaymentResult | null): PaymentOutcome {
  return decided.transactionId
    ? { status: 'succeeded', transactionId: decided.transactionId, result: orderResult }
    : { status: 'failed', declineCode: decided.declineCode!, result: orderResult };
}

function outcomeEvent(payment: TerminalPayment, decided: Decided): PaymentEvent {
  const type = decided.aborted
    ? 'payment_aborted'
    : decided.approved
      ? 'payment_approved'
      : 'payment_declined';
  return paymentEvent(type, payment, decided.declineCode);
}

/** The period's transaction of a payment that was not aborted. */
function paymentTransaction(payment: TerminalPayment, decided: Decided): NewTerminalTransaction {
  return {
    id: randomUUID(),
    terminalId: payment.terminalId,
    kind: 'payment',
    outcome: decided.approved ? 'approved' : 'declined',
    amountMinor: payment.amountMinor,
    currency: payment.currency,
    transactionId: decided.transactionId,
    paymentId: payment.id,
    orderId: payment.orderId ?? undefined,
    requestId: payment.terminalRequestId,
    reason: decided.declineCode,
    cardBrand: payment.cardBrand,
    cardLast4: payment.cardLast4,
    at: decided.at,
  };
}

function logTerminalOutcome(
  deps: PaymentsDeps,
  payment: TerminalPayment,
  result: TerminalResult | undefined,
): void {
  deps.log.info(
    {
      terminalId: payment.terminalId,
      requestId: payment.terminalRequestId,
      paymentId: payment.id,
      orderId: payment.orderId,
      result: result?.result,
      errorCondition: result?.errorCondition,
    },
    'terminal payment processed',
  );
}

/**
 * Records a transaction in the terminal's open period (in one statement when it has one), and
 * returns the message that tells users, for the caller to queue with its answer.
 */
async function recordTransaction(
  trx: Knex.Transaction,
  transaction: NewTerminalTransaction,
): Promise<OutboxMessage> {
  const periodId =
    (await insertTerminalTransaction(trx, transaction, 'open')) ??
    (await insertTerminalTransaction(
      trx,
      transaction,
      (await openPeriod(trx, transaction.terminalId)).id,
    ))!;
  return transactionMessage(transaction, periodId);
}

/**
 * The message that tells users a transaction was recorded in period `periodId` (the admin's list
 * of terminals shows the last ones and today's totals).
 */
function transactionMessage(transaction: NewTerminalTransaction, periodId: string): OutboxMessage {
  const event: TerminalTransaction = {
    type: 'terminal.transaction_recorded',
    id: transaction.id,
    terminalId: transaction.terminalId,
    kind: transaction.kind,
    outcome: transaction.outcome,
    amountMinor: transaction.amountMinor,
    currency: transaction.currency,
    ...(transaction.transactionId ? { transactionId: transaction.transactionId } : {}),
    ...(transaction.orderId ? { orderId: transaction.orderId } : {}),
    periodId,
    ...(transaction.reason ? { reason: transaction.reason } : {}),
    ...(transaction.cardBrand ? { cardBrand: transaction.cardBrand } : {}),
    ...(transaction.cardLast4 ? { cardLast4: transaction.cardLast4 } : {}),
    at: transaction.at,
  };
  return { topic: 'terminalTransactions', payload: event };
}

/**
 * What became of request `ofRequestId`: processed (with the first answer), in progress, or not
 * found — then it never arrived (or the broker refused it), and the terminal may send it again.
 */
async function status(
  deps: PaymentsDeps,
  terminalId: string,
  request: TerminalStatusRequested,
): Promise<TerminalResult> {
  const row = await findTerminalRequest(deps.db, terminalId, request.ofRequestId);
  const found = row && isCurrent(row) ? row : undefined;
  const fields: AnswerFields =
    found?.state === 'processed' && found.result
      ? { result: 'success', state: 'processed', original: stripOriginal(found.result) }
      : found
        ? { result: 'success', state: 'in_progress' }
        : { result: 'success', state: 'not_found' };
  return answerRead(
    deps,
    terminalId,
    answer(request.requestId, 'status', { ...fields, ofRequestId: request.ofRequestId }),
  );
}

function stripOriginal(result: TerminalResult): Omit<TerminalResult, 'original'> {
  const first: TerminalResult = { ...result };
  delete first.original;
  return first;
}

/**
 * Aborts a payment request until it is approved: one under way is marked, and its charge, when
 * the processor answers, is declined `aborted` (an approval given back at once). An abort that
 * overtakes its request (a request id not seen yet) takes that id first, so the request, when it
 * comes, is answered `aborted` and never charged.
 */
async function abort(
  deps: PaymentsDeps,
  terminalId: string,
  request: TerminalAbortRequested,
): Promise<TerminalResult | undefined> {
  const digest = digestOf(request);
  const earlier = await findTerminalRequest(deps.db, terminalId, request.requestId);
  if (earlier && isCurrent(earlier)) {
    return repeat(deps, terminalId, earlier, digest, 'abort', request.requestId);
  }
  const outcome = await withTransaction(deps.db, async function abortRequest(trx) {
    const claimed = await claimTerminalRequest(trx, {
      terminalId,
      requestId: request.requestId,
      kind: 'abort',
      digest,
      state: 'in_progress',
    });
    if (!claimed) return undefined;
    let target = await findTerminalRequestForUpdate(trx, terminalId, request.ofRequestId);
    if (target && !isCurrent(target)) target = undefined;
    let fields: AnswerFields;
    if (!target) {
      // The request has not arrived: its id is taken now, answered aborted.
      await claimTerminalRequest(trx, {
        terminalId,
        requestId: request.ofRequestId,
        kind: null,
        digest: null,
        state: 'processed',
        result: answer(request.ofRequestId, 'payment', failure('aborted')),
      });
      fields = { result: 'success' };
    } else if (target.kind !== 'payment' && target.kind !== 'order_payment') {
      fields = failure('not_abortable');
    } else if (target.state === 'in_progress') {
      await abortTerminalRequest(trx, terminalId, request.ofRequestId);
      await appendPaymentEvent(trx, {
        type: 'payment_aborted',
        orderId: null,
        terminalId,
        paymentId: target.payment_id ?? undefined,
        requestId: request.ofRequestId,
        reason: 'abort_requested',
      });
      fields = { result: 'success' };
    } else if (target.state === 'aborted' || target.result?.errorCondition === 'aborted') {
      fields = { result: 'success' };
    } else {
      fields = failure('not_abortable');
    }
    const result = answer(request.requestId, 'abort', {
      ...fields,
      ofRequestId: request.ofRequestId,
    });
    await completeTerminalRequest(trx, terminalId, request.requestId, { result });
    await queueAnswer(trx, terminalId, result);
    return result;
  });
  if (outcome) return outcome;
  const row = await findTerminalRequest(deps.db, terminalId, request.requestId);
  return repeat(deps, terminalId, row!, digest, 'abort', request.requestId);
}

const reversalConditions: Partial<Record<string, TerminalCondition>> = {
  unknown_payment: 'unknown_transaction',
  payment_not_captured: 'unknown_transaction',
  refund_exceeds_captured: 'reversal_exceeds_captured',
};

/**
 * Reverses (part of) one of this terminal's approved payments, through the refund payments makes
 * for any payment (never more than was captured, under the payment's lock). The reversal of an
 * order's payment also reaches orders, as a refund of the order.
 */
async function reverse(
  deps: PaymentsDeps,
  terminalId: string,
  request: TerminalReversalRequested,
): Promise<TerminalResult | undefined> {
  const digest = digestOf(request);
  const keep = { requestId: request.requestId, kind: 'reversal', digest } as const;
  const earlier = await findTerminalRequest(deps.db, terminalId, request.requestId);
  if (earlier && isCurrent(earlier)) {
    return repeat(deps, terminalId, earlier, digest, 'reversal', request.requestId);
  }
  const payment = await findTerminalPaymentByTransaction(
    deps.db,
    terminalId,
    request.transactionId,
  );
  if (!payment) return refuseKept(deps, terminalId, keep, 'unknown_transaction');
  const refundId = randomUUID();
  const claimed = await withTransaction(deps.db, (trx) =>
    claimTerminalRequest(trx, {
      terminalId,
      requestId: request.requestId,
      kind: 'reversal',
      digest,
      state: 'in_progress',
      paymentId: payment.id,
    }),
  );
  if (!claimed) {
    const row = await findTerminalRequest(deps.db, terminalId, request.requestId);
    return repeat(deps, terminalId, row!, digest, 'reversal', request.requestId);
  }
  const reversal = reversalSettlement(terminalId, request, payment.id, refundId);
  await refundPayment(deps, {
    refundId,
    paymentId: payment.id,
    terminalId,
    terminalRequestId: request.requestId,
    ...(request.amountMinor ? { amountMinor: request.amountMinor } : {}),
    reason: request.reason ?? 'reversal',
    settle: reversal.settle,
  });
  return reversal.given();
}

/**
 * How a reversal's refund ends for the terminal, in the transaction that records it: the answer
 * kept on the terminal's request and queued to it, and a reversed one in the period's
 * transactions. Built again by the recovery for a reversal whose process died mid-way.
 */
function reversalSettlement(
  terminalId: string,
  request: { requestId: string; transactionId: string; reason?: string | undefined },
  paymentId: string,
  refundId: string,
): { settle: NonNullable<RefundAsk['settle']>; given(): TerminalResult | undefined } {
  let given: TerminalResult | undefined;
  return {
    given: () => given,
    async settle(trx, settlement) {
      let fields: AnswerFields;
      const messages: OutboxMessage[] = [];
      if (settlement.kind === 'refunded') {
        messages.push(
          await recordTransaction(trx, {
            id: randomUUID(),
            terminalId,
            kind: 'reversal',
            outcome: 'reversed',
            amountMinor: settlement.amountMinor,
            currency: settlement.currency,
            transactionId: settlement.transactionId,
            paymentId,
            orderId: settlement.orderId ?? undefined,
            requestId: request.requestId,
            reason: request.reason,
            at: settlement.at,
          }),
        );
        fields = {
          result: 'success',
          transactionId: settlement.transactionId,
          reversedTransactionId: request.transactionId,
          paymentId,
          ...(settlement.orderId ? { orderId: settlement.orderId } : {}),
          amountMinor: settlement.amountMinor,
          currency: settlement.currency,
        };
      } else if (settlement.kind === 'failed') {
        fields = { ...failure('reversal_failed'), reversedTransactionId: request.transactionId };
      } else {
        fields = {
          ...failure(reversalConditions[settlement.reason] ?? settlement.reason),
          reversedTransactionId: request.transactionId,
        };
      }
      given = answer(request.requestId, 'reversal', fields);
      await completeTerminalRequest(trx, terminalId, request.requestId, {
        result: given,
        ...(settlement.kind === 'refused' ? {} : { refundId }),
      });
      await queueAnswer(trx, terminalId, given, messages);
    },
  };
}

/**
 * The recovery of a terminal's reversal whose process died after setting its amount aside: the
 * processor is asked again under the refund's id, and the terminal gets its one answer.
 */
export async function recoverReversal(
  deps: PaymentsDeps,
  refund: RefundRow,
  payment: { id: string; currency: string; transaction_id: string; terminal_id: string },
): Promise<RefundAnswer> {
  const terminalId = payment.terminal_id;
  const reason = refund.reason === 'reversal' ? undefined : refund.reason;
  const reversal = reversalSettlement(
    terminalId,
    { requestId: refund.terminal_request_id!, transactionId: payment.transaction_id, reason },
    payment.id,
    refund.id,
  );
  return askProcessor(
    deps,
    {
      refundId: refund.id,
      paymentId: payment.id,
      terminalId,
      terminalRequestId: refund.terminal_request_id!,
      reason: refund.reason,
      settle: reversal.settle,
    },
    {
      kind: 'claimed',
      orderId: refund.order_id,
      amountMinor: Number(refund.amount_minor),
      currency: payment.currency,
      transactionId: payment.transaction_id,
    },
  );
}

/**
 * Reversals a process claimed and died before setting anything aside (no refund names them):
 * nothing was reversed, and the terminal is told so (`reversal_failed`) — it may reverse again
 * under a new request id. Returns how many were answered.
 */
export async function failAbandonedReversals(
  deps: PaymentsDeps,
  olderThanMs: number,
  limit: number,
): Promise<number> {
  const abandoned = await findAbandonedReversals(deps.db, olderThanMs, limit);
  let answered = 0;
  for (const request of abandoned) {
    const done = await withTransaction(deps.db, async function failReversal(trx) {
      const row = await findTerminalRequestForUpdate(trx, request.terminal_id, request.request_id);
      if (row?.state !== 'in_progress' || row.id !== request.id) return false;
      const given = answer(request.request_id, 'reversal', failure('reversal_failed'));
      await completeTerminalRequest(trx, request.terminal_id, request.request_id, {
        result: given,
      });
      await queueAnswer(trx, request.terminal_id, given);
      return true;
    });
    if (done) answered++;
  }
  return answered;
}

/**
 * A terminal's totals: of its open period, of a closed one by id, or — `close` — of the open
 * period as it is closed (kept: asking again gets the same period and totals) and the next opened.
 */
async function reconcile(
  deps: PaymentsDeps,
  terminalId: string,
  request: TerminalReconciliationRequested,
): Promise<TerminalResult | undefined> {
  if (request.action === 'totals') {
    const period = request.periodId
      ? await findPeriod(deps.db, terminalId, request.periodId)
      : await withTransaction(deps.db, (trx) => openPeriod(trx, terminalId));
    if (!period) {
      return answerRead(
        deps,
        terminalId,
        answer(request.requestId, 'reconciliation', failure('unknown_period')),
      );
    }
    const fields = { result: 'success', period: await describePeriod(deps.db, period) } as const;
    return answerRead(deps, terminalId, answer(request.requestId, 'reconciliation', fields));
  }
  const digest = digestOf(request);
  const earlier = await findTerminalRequest(deps.db, terminalId, request.requestId);
  if (earlier && isCurrent(earlier)) {
    return repeat(deps, terminalId, earlier, digest, 'reconciliation', request.requestId);
  }
  const closed = await withTransaction(deps.db, async function closeTerminalPeriod(trx) {
    const claimed = await claimTerminalRequest(trx, {
      terminalId,
      requestId: request.requestId,
      kind: 'reconciliation',
      digest,
      state: 'in_progress',
    });
    if (!claimed) return undefined;
    // Locked for update: the transactions being recorded in it (share locks) commit first.
    const open = await openPeriod(trx, terminalId, 'update');
    const period = await closePeriod(trx, open);
    const described = await describePeriod(trx, period);
    await appendPaymentEvent(trx, {
      type: 'period_closed',
      orderId: null,
      terminalId,
      requestId: request.requestId,
      reason: period.id,
    });
    const result = answer(request.requestId, 'reconciliation', {
      result: 'success',
      period: described,
    });
    await completeTerminalRequest(trx, terminalId, request.requestId, { result });
    await queueAnswer(trx, terminalId, result);
    return result;
  });
  if (closed) {
    deps.log.info({ terminalId, periodId: closed.period?.periodId }, 'terminal period closed');
    return closed;
  }
  const row = await findTerminalRequest(deps.db, terminalId, request.requestId);
  return repeat(deps, terminalId, row!, digest, 'reconciliation', request.requestId);
}

async function describePeriod(
  db: Knex | Knex.Transaction,
  period: TerminalPeriodRow,
): Promise<NonNullable<TerminalResult['period']>> {
  return {
    periodId: period.id,
    openedAt: period.opened_at.toISOString(),
    ...(period.closed_at ? { closedAt: period.closed_at.toISOString() } : {}),
    totals: await periodTotals(db, period.id),
  };
}
