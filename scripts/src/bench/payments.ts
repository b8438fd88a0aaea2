import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { topics } from '@mercado/common/contract';
import { connectMqtt } from '@mercado/common/mqtt';
import { requestResponse, startBroker } from './broker.js';
import type { ReportSection } from './report.js';
import {
  cpuLine,
  cpuSpent,
  durationSeconds,
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
export async function benchPayments(system: BenchSystem): Promise<ReportSection[]> {
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
    let orderIds: string[] = [];
    let announced: Array<Promise<unknown>> = [];
    for (let index = 0; index < count; index++) {
      const orderId = randomUUID();
      orderIds.push(orderId);
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
      // A hundred at a time, each hundred recorded before the next: payments handles every
      // message it receives at once, and thousands at once would wait on its pool for longer
      // than a connection may be waited for (the handler then fails, and the intent is lost).
      if (orderIds.length === 100 || index === count - 1) {
        await Promise.all(announced);
        await intentsRecorded(system, orderIds);
        orderIds = [];
        announced = [];
      }
    }
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
    ];
    const before = system.cpuSeconds();
    const paid = await measurePlannedAtRate(`${rate} payments/s`, system.gatewayUrl, rate, plan);
    rows.push({ ...paid, group: 'POST /api/orders/{id}/payments' });
    const cpu = cpuSpent(before, system.cpuSeconds());
    printTable('Payment round trip over MQTT (goal: p50 < 2 ms, p99 < 10 ms at 1,000/s)', rows);
    // Warm-up and measured run alike, each payment with the intent announced for it.
    const payments = Math.ceil(rate * 2) + Math.ceil(rate * durationSeconds);
    const notes = [
      `answers (measured run; 202: no result within the gateway's PAYMENT_WAIT_MS, 404: ` +
        `payments had not recorded the intent yet): ${JSON.stringify(paid.statuses ?? {})}`,
      cpuLine('payment (its intent included)', cpu, payments),
    ];
    for (const note of notes) process.stdout.write(`${note}\n`);
    const [gatewayAtRate, bare] = rows as [TableRow, TableRow];
    return [
      {
        group: 'Payment round trip over MQTT',
        label:
          `\`POST /api/orders/{id}/payments\` at a steady ${rate}/s (open loop), each paying an ` +
          'order of its own: the gateway encrypts the card, publishes it over MQTT, payments ' +
          'records the payment and its outbox publishes the result back to the waiting gateway. ' +
          'Its ceiling: bare aedes’ QoS 1 round trip (one in flight, no database).',
        ceiling: { name: 'bare aedes QoS 1 round trip', unit: 'rt/s', ...bare },
        figures: [
          { ...paid, label: `payments at ${rate}/s`, unit: 'payments/s', compare: 'p99' },
          {
            ...gatewayAtRate,
            label: `reference: gateway → trivial upstream at ${rate} req/s`,
            ceiling: null,
          },
        ],
        notes,
      },
    ];
  } finally {
    await orders.endAsync();
  }
}

/**
 * Waits until payments has recorded every announced intent (its database says so): a payment
 * sent before its intent is refused `unknown_order`, which would measure the intents' backlog,
 * not the payments.
 */
async function intentsRecorded(system: BenchSystem, orderIds: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: system.databaseUrl('mercado_payments') });
  await client.connect();
  try {
    for (let attempt = 0; attempt < 300; attempt++) {
      const { rows } = await client.query<{ n: string }>(
        'select count(*) as n from intents where order_id = any($1::uuid[])',
        [orderIds],
      );
      if (Number(rows[0]!.n) === orderIds.length) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('bench: payments never recorded the announced intents');
  } finally {
    await client.end();
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
export async function bareRoundTrip() {
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
