import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  cardSchema,
  encryptCard,
  encryptedCardSchema,
  parsePayload,
  topics,
  type PaymentKeys,
  type PaymentResult,
} from '@mercado/common/contract';
import { AppError } from '@mercado/common/errors';
import { fieldErrors, nulCharacters } from '@mercado/common/http';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import { Counter } from 'prom-client';
import { createServiceMqttClient, publishWithin, type MqttClient } from '@mercado/common/mqtt';
import type { Caller } from './auth.js';
import { gatewayError } from './errors.js';

/**
 * The gateway's payment bridge: `POST /api/orders/{id}/payments` travels HTTP → MQTT → payments
 * and back (docs/architecture.md, "The checkout, end to end").
 *
 * - **Cards are readable by payments alone.** A clear card (`card`) is checked for shape and
 *   encrypted at once for payments' current public key (a compact JWE, ECDH-ES key agreement,
 *   A256GCM); a card the browser already encrypted (`encryptedCard`) is passed on untouched. Only
 *   the JWE goes on `payments/requests`, so the broker, Redis and every log hold ciphertext. The
 *   keys are those payments announces, retained, on `payments/keys`; browsers get them from
 *   `GET /api/payments/keys.json`. Until payments has announced any, paying answers 503.
 * - **The amount never comes from the client**: payments charges what orders' intent says.
 *   `amountMinor`, `amount` and `currency` in the body are accepted and ignored (clients written
 *   for other APIs send them); any other field is refused.
 * - **Idempotent**: `Idempotency-Key` is required (1–255 visible ASCII characters). The request
 *   id sent to payments is a digest of the caller and the key, so two shoppers' keys never meet
 *   and a repeat gets payments' first answer, never a second charge.
 * - **The result comes back to this replica only**: before publishing, the bridge subscribes to
 *   `payments/results/{orderId}` of the order it pays (one subscription per order however many
 *   requests wait on it, dropped once none does), so no other replica hears it. It answers with
 *   the result when it comes (200 approved, 402 declined, 409/404 refused), or after
 *   `waitMs` with 202 and where to look (`Location: /api/orders/{id}`).
 * - **A just-placed order is not "unknown"**: payments refuses `unknown_order` when the order's
 *   intent has not reached it yet (it travels from orders' outbox while the shopper pays). Nothing
 *   was tried, so the bridge asks again, the same request, after 20, 40, 80… ms for up to a
 *   second (or `waitMs`, if shorter); only then is it 404.
 */

export interface PaymentBridgeOptions {
  mqtt: { MQTT_URL: string; MQTT_PASSWORD: string };
  log: Logger;
  metrics: Metrics;
  /** How long a request waits for its result before answering 202. */
  waitMs: number;
  /** How long publishing may wait for the broker's PUBACK. */
  publishTimeoutMs?: number;
}

export interface PaymentBridge {
  /** `POST /api/orders/:id/payments`, for a signed-in caller. */
  pay(req: Request, res: Response, caller: Caller): Promise<void>;
  /** `GET /api/payments/keys.json`: payments' public keys, to encrypt a card in the browser. */
  keys(req: Request, res: Response): Promise<void>;
  /** Whether payments' keys are known (payments has announced them at least once). */
  ready(): boolean;
  close(): Promise<void>;
}

const maxBodyBytes = 16 * 1024;
/** The first pause before asking again about an order payments does not know yet (doubling). */
const unknownOrderRetryMs = 20;
/** How long an unknown order is asked about again before it is answered 404. */
const unknownOrderRetryWindowMs = 1_000;
const uuid = z.uuid();
const idempotencyKey = /^[\x21-\x7e]{1,255}$/;

const payBody = z
  .strictObject({
    card: cardSchema.optional(),
    encryptedCard: encryptedCardSchema.optional(),
    // Ignored: what an order owes is the order's (payments' intent), never a client's figure.
    amountMinor: z.unknown().optional(),
    amount: z.unknown().optional(),
    currency: z.unknown().optional(),
  })
  .refine((body) => (body.card === undefined) !== (body.encryptedCard === undefined), {
    message: 'give exactly one of card and encryptedCard',
    path: ['card'],
  });

/**
 * Refusals of the card the client sent, not of the order's state: a JWE payments cannot decrypt,
 * one for a key it does not hold (the browser should fetch the keys again), or one that holds no
 * card. The client's mistake, 400, as the same card in clear would be.
 */
const cardRefusals = new Set(['unreadable_card', 'unknown_key', 'invalid_card']);

/** What a result answers over HTTP. Approved is the only 200. */
function answerFor(result: PaymentResult): { status: number; body: Record<string, unknown> } {
  const card = {
    ...(result.cardBrand ? { cardBrand: result.cardBrand } : {}),
    ...(result.cardLast4 ? { cardLast4: result.cardLast4 } : {}),
  };
  switch (result.type) {
    case 'payment.approved':
      return {
        status: 200,
        body: {
          status: 'succeeded',
          orderId: result.orderId,
          paymentId: result.paymentId,
          transactionId: result.transactionId,
          amountMinor: result.amountMinor,
          currency: result.currency,
          ...card,
        },
      };
    case 'payment.declined':
      return {
        status: 402,
        body: {
          type: 'about:blank',
          title: 'The card was declined',
          status: 402,
          code: 'payment_declined',
          reason: result.reason ?? 'card_declined',
          orderId: result.orderId,
          paymentId: result.paymentId,
          ...card,
        },
      };
    default: {
      // refused (or a refund, which no pay request waits for): nothing was charged.
      const reason = result.reason ?? 'payment_refused';
      const status = reason === 'unknown_order' ? 404 : cardRefusals.has(reason) ? 400 : 409;
      return {
        status,
        body: {
          type: 'about:blank',
          title: 'The payment was not attempted',
          status,
          code: reason,
          orderId: result.orderId,
        },
      };
    }
  }
}

/** The body, parsed: JSON only, at most maxBodyBytes, never echoed. */
async function readJson(req: Request): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new AppError('unsupported_media_type');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw new AppError('payload_too_large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AppError('invalid_json');
  }
}

interface Waiter {
  requestId: string;
  settle(result: PaymentResult): void;
}

export function createPaymentBridge({
  mqtt: mqttConfig,
  log,
  metrics,
  waitMs,
  publishTimeoutMs = 5_000,
}: PaymentBridgeOptions): PaymentBridge {
  const answered = new Counter({
    name: 'gateway_payments_total',
    help: 'Payment requests by how they were answered (approved, declined, refused, pending, unsent)',
    labelNames: ['outcome'],
    registers: [metrics.registry],
  });
  // Only results for orders this replica waits on reach it: the proof results are not broadcast.
  const heard = new Counter({
    name: 'gateway_payment_results_heard_total',
    help: 'Payment results this replica received from the broker',
    registers: [metrics.registry],
  });
  let announced: PaymentKeys | undefined;
  /** Requests waiting for a result, by order. */
  const waiting = new Map<string, Set<Waiter>>();
  /** Subscriptions under way or held, by order (so concurrent requests subscribe once). */
  const subscriptions = new Map<string, Promise<void>>();

  const mqtt: MqttClient = createServiceMqttClient({
    service: 'gateway',
    config: mqttConfig,
    log,
    // A fresh session each time: waiting requests resubscribe (mqtt.js does), keys come retained.
    options: { clean: true },
  })!;
  mqtt.on('connect', function subscribeToKeys() {
    mqtt
      .subscribeAsync(topics.paymentKeys.build(), { qos: topics.paymentKeys.qos })
      .catch(function keysRefused(error: unknown) {
        log.error({ err: { message: String(error) } }, 'payments keys subscription refused');
      });
  });
  mqtt.on('message', function onPaymentsMessage(topic, payload) {
    const message = parsePayload(topic, payload);
    if (!message.ok) {
      log.warn({ topic, reason: message.reason }, 'payments message ignored');
      return;
    }
    if (message.name === 'paymentKeys') {
      announced = message.value;
      const [first] = announced.keys;
      log.info({ kid: first?.kid, keys: announced.keys.length }, 'payments card keys known');
      return;
    }
    if (message.name !== 'paymentResults') return;
    heard.inc();
    const result = message.value;
    for (const waiter of waiting.get(result.orderId) ?? []) {
      if (waiter.requestId === result.requestId) waiter.settle(result);
    }
  });

  function subscribe(orderId: string): Promise<void> {
    let subscribed = subscriptions.get(orderId);
    if (!subscribed) {
      const topic = topics.paymentResults.build({ orderId });
      subscribed = mqtt.subscribeAsync(topic, { qos: 1 }).then(() => undefined);
      subscriptions.set(orderId, subscribed);
      subscribed.catch(() => subscriptions.delete(orderId));
    }
    return subscribed;
  }

  function release(orderId: string, waiter: Waiter): void {
    const set = waiting.get(orderId);
    set?.delete(waiter);
    if (set && set.size > 0) return;
    waiting.delete(orderId);
    subscriptions.delete(orderId);
    if (mqtt.connected) {
      mqtt.unsubscribeAsync(topics.paymentResults.build({ orderId })).catch(() => undefined);
    }
  }

  async function encrypt(card: z.infer<typeof cardSchema>): Promise<string> {
    if (!announced) throw new AppError('service_unavailable');
    try {
      return await encryptCard(card, announced);
    } catch (error) {
      // A key set payments announced but no one can use: payments' trouble, not the shopper's.
      log.error({ err: { message: String(error) } }, 'payments card key unusable');
      throw new AppError('service_unavailable');
    }
  }

  /**
   * Publishes one payment request and waits for its result until `deadline` (undefined: none came
   * in time). Subscribed to the order's results before publishing, so the answer cannot slip by.
   */
  async function requestOnce(
    orderId: string,
    requestId: string,
    request: string,
    deadline: number,
  ): Promise<PaymentResult | undefined> {
    let timer: NodeJS.Timeout | undefined;
    let waiter: Waiter | undefined;
    const result = new Promise<PaymentResult | undefined>((resolve) => {
      waiter = { requestId, settle: resolve };
      timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
    });
    const set = waiting.get(orderId) ?? new Set<Waiter>();
    set.add(waiter!);
    waiting.set(orderId, set);
    try {
      await subscribe(orderId);
      await publishWithin(
        mqtt,
        topics.paymentRequests.build(),
        request,
        { qos: 1 },
        publishTimeoutMs,
      );
    } catch (error) {
      clearTimeout(timer);
      release(orderId, waiter!);
      answered.inc({ outcome: 'unsent' });
      log.warn({ orderId, err: { message: String(error) } }, 'payment request not sent');
      throw new AppError('service_unavailable');
    }
    try {
      return await result;
    } finally {
      clearTimeout(timer);
      release(orderId, waiter!);
    }
  }

  return {
    async pay(req, res, caller) {
      // The policy matched /api/orders/:id/payments; a uuid needs no percent-decoding.
      const orderId = req.path.split('/')[3] ?? '';
      if (!uuid.safeParse(orderId).success) throw new AppError('not_found');
      const key = req.headers['idempotency-key'];
      if (typeof key !== 'string' || !idempotencyKey.test(key)) {
        throw gatewayError('idempotency_key_required');
      }
      const raw = await readJson(req);
      const nul = nulCharacters('body', raw);
      if (nul.length > 0) throw new AppError('validation_failed', { errors: nul });
      const parsed = payBody.safeParse(raw);
      if (!parsed.success) {
        throw new AppError('validation_failed', {
          errors: fieldErrors('body', parsed.error.issues),
        });
      }
      if (!mqtt.connected) throw new AppError('service_unavailable');
      const card = parsed.data.encryptedCard ?? (await encrypt(parsed.data.card!));
      const requestId = createHash('sha256').update(`${caller.userId}\n${key}`).digest('base64url');

      const request = JSON.stringify({
        type: 'payment.requested',
        requestId,
        orderId,
        userId: caller.userId,
        card,
      });
      const deadline = Date.now() + waitMs;
      const retryUntil = Date.now() + Math.min(waitMs, unknownOrderRetryWindowMs);
      let outcome: PaymentResult | undefined;
      for (let attempt = 0; ; attempt++) {
        outcome = await requestOnce(orderId, requestId, request, deadline);
        // The order's intent may still be on its way from orders' outbox (a shopper paying the
        // moment the order exists): payments tried nothing, so asking again is safe.
        if (outcome?.type !== 'payment.refused' || outcome.reason !== 'unknown_order') break;
        const pause = Math.min(unknownOrderRetryMs * 2 ** attempt, 500);
        if (Date.now() + pause >= retryUntil) break;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
      answered.inc({ outcome: outcome ? outcome.type.slice('payment.'.length) : 'pending' });
      if (!outcome) {
        const location = `/api/orders/${orderId}`;
        res.status(202).setHeader('Location', location);
        res.setHeader('Retry-After', '1');
        res.json({ status: 'processing', orderId, location });
        return;
      }
      const { status, body } = answerFor(outcome);
      res.status(status);
      if (status >= 400) res.type('application/problem+json');
      res.json(body);
    },
    async keys(_req, res) {
      if (!announced) throw new AppError('service_unavailable');
      res.setHeader('Cache-Control', 'public, max-age=60');
      // Public keys only: a JWK set as RFC 7517 §5 writes it.
      res.json({ keys: announced.keys });
    },
    ready: () => announced !== undefined,
    async close() {
      await mqtt.endAsync(true);
    },
  };
}
