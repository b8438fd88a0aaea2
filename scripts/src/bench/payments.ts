import { randomBytes, randomUUID } from 'node:crypto';
import { topics } from '@mercado/common/contract';
import { connectMqtt } from '@mercado/common/mqtt';
import { requestResponse, startBroker } from './broker.js';
import {
  measureCeilingAtRate,
  measurePlannedAtRate,
  printTable,
  type BenchSystem,
  type PlannedRequest,
  type TableRow,
} from './system.js';

/**
 * A card payment's round trip through the gateway, at a steady 1,000 payments/s from the
 * open-loop generator: `POST /api/orders/{id}/payments` with a clear test card → the gateway
 * encrypts it for payments' key and publishes on `payments/requests` → the broker → payments
 * (decrypts, the sandbox processor, its database, its outbox) → `payments/results/{orderId}` →
 * the waiting gateway replica → 200. Each request pays an order of its own, whose intent the
 * benchmark announced first as orders would (`payments/intents`). Beside it, in the same run, the
 * two ceilings it stands on: the gateway → trivial upstream at the same rate, and a bare aedes
 * QoS 1 round trip (one in flight, mqtt.js clients, no database).
 */
export async function benchPayments(system: BenchSystem): Promise<void> {
  if (!system.mqttUrl || !system.ordersMqtt)
    throw new Error('bench: start the system with payments');
  const rate = Number(process.env.BENCH_PAYMENTS_RATE ?? 1_000);
  const shopper = await register(system.gatewayUrl);
  const orders = await connectMqtt(system.mqttUrl, {
    clientId: `orders-bench-${randomUUID()}`,
    ...system.ordersMqtt,
  });
  const card = JSON.stringify({
    card: { number: '4242424242424242', expMonth: 12, expYear: 2034, cvc: '123' },
  });
  // Each planned payment pays an order of its own, announced before the run starts.
  const plan = async (count: number): Promise<PlannedRequest[]> => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const planned: PlannedRequest[] = [];
    const announced: Array<Promise<unknown>> = [];
    for (let index = 0; index < count; index++) {
      const orderId = randomUUID();
      announced.push(
        orders.publishAsync(
          topics.paymentIntents.build(),
          JSON.stringify({
            type: 'payment.intent_created',
            id: randomUUID(),
            orderId,
            userId: shopper.userId,
            amountMinor: 4_990,
            currency: 'EUR',
            expiresAt,
          }),
          { qos: 1 },
        ),
      );
      planned.push({
        method: 'POST',
        path: `/api/orders/${orderId}/payments`,
        headers: {
          authorization: `Bearer ${shopper.token}`,
          'content-type': 'application/json',
          'idempotency-key': orderId,
        },
        body: card,
        expect: 200,
      });
    }
    await Promise.all(announced);
    return planned;
  };
  try {
    const rows: TableRow[] = [
      {
        ...(await measureCeilingAtRate(system, `${rate} req/s`, rate)),
        group: 'ceiling: gateway → trivial',
      },
      {
        ...(await bareRoundTrip()),
        group: 'ceiling: bare aedes QoS 1',
      },
      {
        ...(await measurePlannedAtRate(`${rate} payments/s`, system.gatewayUrl, rate, plan)),
        group: 'POST /api/orders/{id}/payments',
      },
    ];
    printTable('Payment round trip over MQTT (goal: p50 < 2 ms, p99 < 10 ms at 1,000/s)', rows);
  } finally {
    await orders.endAsync();
  }
}

async function register(gatewayUrl: string): Promise<{ token: string; userId: string }> {
  const response = await fetch(`${gatewayUrl}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: `payer-${randomUUID()}@bench.example`,
      password: 'a long paying passphrase',
      name: 'Payer',
    }),
  });
  const body = (await response.json()) as { accessToken?: string; user?: { id: string } };
  if (!body.accessToken || !body.user) {
    throw new Error(`bench: register answered ${response.status}`);
  }
  return { token: body.accessToken, userId: body.user.id };
}

/** bench:broker's request/response on bare aedes, one round trip in flight (closed loop). */
async function bareRoundTrip() {
  const broker = await startBroker('bare', randomBytes(32).toString('base64url'));
  try {
    const measured = await requestResponse(broker, 1);
    return {
      label: 'round trip, 1 in flight',
      rps: measured.rate,
      p50: measured.p50 ?? Number.NaN,
      p99: measured.p99 ?? Number.NaN,
      errors: 0,
    };
  } finally {
    await broker.stop();
  }
}
