import { randomUUID } from 'node:crypto';
import type { PaymentStatus, PaymentStatusRequested } from '@mercado/common/contract';
import { withTransaction, type Knex } from '@mercado/common/db';
import { appendPaymentEvent } from '../data/events-repository.js';
import { cancelIntent, type IntentRow } from '../data/intents-repository.js';
import { findLivePayment } from '../data/payments-repository.js';
import { paymentsOutbox } from '../data/outbox.js';
import type { PaymentsDeps } from './deps.js';
import { publishAgain } from './results.js';

type State = PaymentStatus['state'];

/**
 * Answers orders' question about some orders' payments (`payments/status-requests`), one order
 * per transaction. For each order, with its intent locked FOR UPDATE — so a payment starting now
 * (which reads the intent FOR SHARE) either committed before and is seen, or waits and then sees
 * what this decided:
 * - a payment succeeded (or was refunded since): `succeeded`, and its result is published again
 *   (the same event: orders' inbox applies it once), which is how a result published while no
 *   orders replica listened still pays the order;
 * - a payment is processing: `processing`, its result follows;
 * - none, and the request says `expire`: the intent is closed (reason expired, audited) unless it
 *   already was, and the answer is `closed` — no payment can start after it, so orders may expire
 *   the order knowing no money was taken;
 * - none, otherwise: `closed` when the intent is cancelled or past its expiry, `unknown` when it
 *   never arrived (orders then sends it again), else `open`.
 * Each answer goes out on `payments/status/{orderId}` from the outbox, in the same transaction.
 */
export async function answerStatusRequest(
  deps: Pick<PaymentsDeps, 'db' | 'log' | 'now'>,
  request: PaymentStatusRequested,
): Promise<Record<string, State>> {
  const answers: Record<string, State> = {};
  for (const orderId of new Set(request.orderIds)) {
    answers[orderId] = await withTransaction(deps.db, (trx) =>
      answerForOrder(trx, deps, request, orderId),
    );
  }
  deps.log.info(
    { requestId: request.id, orders: request.orderIds.length, expire: request.expire },
    'payment status answered',
  );
  return answers;
}

async function answerForOrder(
  trx: Knex.Transaction,
  deps: Pick<PaymentsDeps, 'now'>,
  request: PaymentStatusRequested,
  orderId: string,
): Promise<State> {
  const intent = await trx<IntentRow>('intents').where({ order_id: orderId }).forUpdate().first();
  const live = await findLivePayment(trx, orderId);
  let state: State;
  if (live?.status === 'processing') {
    state = 'processing';
  } else if (live) {
    state = 'succeeded';
    if (live.result) await publishAgain(trx, live.result);
  } else if (request.expire) {
    // A stub when the intent never arrived: the intent cannot revive the order later.
    if (await cancelIntent(trx, orderId, 'expired', new Date().toISOString())) {
      await appendPaymentEvent(trx, { type: 'intent_cancelled', orderId, reason: 'expired' });
    }
    state = 'closed';
  } else {
    const closed =
      intent?.cancelled_reason != null ||
      (intent?.expires_at != null && intent.expires_at.getTime() <= deps.now().getTime());
    state = closed ? 'closed' : intent ? 'open' : 'unknown';
  }
  const answer: PaymentStatus = {
    type: 'payment.status',
    id: randomUUID(),
    requestId: request.id,
    orderId,
    state,
    ...(live && state === 'succeeded' ? { paymentId: live.id } : {}),
    at: new Date().toISOString(),
  };
  await paymentsOutbox.insert(trx, [
    { topic: 'paymentStatus', params: { orderId }, payload: answer },
  ]);
  return state;
}
