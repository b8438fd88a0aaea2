import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CompactEncrypt,
  compactDecrypt,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWK,
} from 'jose';
import t, { type Test } from 'tap';
import { startTestBroker } from '@mercado/broker/testing';
import { parsePayload, topics } from '@mercado/common/contract';
import { connectMqtt, sharedTopicFilter, type MqttClient } from '@mercado/common/mqtt';
import { testMqttPassword, testServiceMqttCredentials } from '@mercado/common/testing';
import { call, newKey, signToken, startGateway, startJwks, type SigningKey } from './helpers.js';

/**
 * The gateway's payment bridge against the real broker, with a stand-in for the payments service
 * (services never run each other in their tests): it announces a card key on `payments/keys`,
 * reads `payments/requests` through the `$share` group, decrypts each card with its private key,
 * and answers on `payments/results/{orderId}` as payments would. No timing: a test waits for the
 * answer itself; "no answer" is a stand-in told not to answer.
 */

const approves = '4242424242424242';
const declines = '4000000000000002';
const card = (number: string) => ({ number, expMonth: 12, expYear: 2034, cvc: '123' });

interface Seen {
  /** The payload as it travelled on the broker. */
  text: string;
  requestId: string;
  orderId: string;
  userId: string;
  /** The card, as payments decrypted it. */
  card: { number: string };
}

interface StandIn {
  client: MqttClient;
  seen: Seen[];
  /** Answer requests (true) or leave them unanswered (false). */
  answering: boolean;
  /** Orders whose intent has not arrived yet: refused unknown_order this many more times. */
  unknown: Map<string, number>;
  publicJwk: JWK;
}

async function startPaymentsStandIn(t: Test, mqttUrl: string): Promise<StandIn> {
  const { publicKey, privateKey } = await generateKeyPair('ECDH-ES+A256KW', {
    crv: 'P-256',
    extractable: true,
  });
  const publicJwk = {
    ...(await exportJWK(publicKey)),
    kid: 'card-1',
    alg: 'ECDH-ES+A256KW',
    use: 'enc',
  };
  const client = await connectMqtt(mqttUrl, {
    clientId: `payments-${randomUUID()}`,
    ...testServiceMqttCredentials('payments'),
  });
  t.teardown(() => client.endAsync(true));
  const standIn: StandIn = { client, seen: [], answering: true, unknown: new Map(), publicJwk };
  await client.subscribeAsync(sharedTopicFilter('payments', 'paymentRequests'), { qos: 1 });
  client.on('message', function charge(topic, payload) {
    const message = parsePayload(topic, payload);
    if (!message.ok || message.name !== 'paymentRequests') return;
    const request = message.value;
    void decrypt(request.card, privateKey).then(async (clear) => {
      standIn.seen.push({ text: payload.toString('utf8'), ...request, card: clear });
      if (!standIn.answering) return;
      const unknownFor = standIn.unknown.get(request.orderId) ?? 0;
      if (unknownFor > 0) {
        standIn.unknown.set(request.orderId, unknownFor - 1);
        await client.publishAsync(
          topics.paymentResults.build({ orderId: request.orderId }),
          JSON.stringify({
            type: 'payment.refused',
            id: randomUUID(),
            requestId: request.requestId,
            orderId: request.orderId,
            reason: 'unknown_order',
            at: new Date().toISOString(),
          }),
          { qos: 1 },
        );
        return;
      }
      const approved = clear.number === approves;
      await client.publishAsync(
        topics.paymentResults.build({ orderId: request.orderId }),
        JSON.stringify({
          type: approved ? 'payment.approved' : 'payment.declined',
          id: randomUUID(),
          requestId: request.requestId,
          orderId: request.orderId,
          paymentId: randomUUID(),
          amountMinor: 4_990,
          currency: 'EUR',
          ...(approved ? { transactionId: 'sandbox-1' } : { reason: 'card_declined' }),
          cardBrand: 'visa',
          cardLast4: clear.number.slice(-4),
          at: new Date().toISOString(),
        }),
        { qos: 1 },
      );
    });
  });
  await client.publishAsync(
    topics.paymentKeys.build(),
    JSON.stringify({ type: 'payments.keys', keys: [publicJwk], at: new Date().toISOString() }),
    { qos: 1, retain: true },
  );
  return standIn;
}

async function decrypt(jwe: string, key: CryptoKey): Promise<{ number: string }> {
  const { plaintext } = await compactDecrypt(jwe, key);
  return JSON.parse(new TextDecoder().decode(plaintext)) as { number: string };
}

/** The users service as the gateway asks it for revocations: none. */
async function startUsersStandIn(t: Test): Promise<string> {
  const server = http.createServer(function users(req, res) {
    res.writeHead(req.url?.startsWith('/internal/revocations') ? 200 : 404, {
      'content-type': 'application/json',
    });
    res.end(JSON.stringify({ accounts: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface System {
  standIn: StandIn;
  broker: Awaited<ReturnType<typeof startTestBroker>>;
  key: SigningKey;
  gateway: (env?: Record<string, string>) => ReturnType<typeof startGateway>;
}

async function startSystem(t: Test): Promise<System> {
  const broker = await startTestBroker(t);
  const standIn = await startPaymentsStandIn(t, broker.url);
  const key = await newKey('k1');
  const jwks = await startJwks(t, [key]);
  const usersUrl = await startUsersStandIn(t);
  return {
    standIn,
    broker,
    key,
    gateway: (env = {}) =>
      startGateway(t, {
        USERS_URLS: usersUrl,
        JWKS_URL: jwks.url,
        MQTT_URL: broker.url,
        MQTT_PASSWORD: testMqttPassword('gateway'),
        ...env,
      }),
  };
}

/** Waits until the gateway has heard payments' keys (the retained message), by asking for them. */
async function keysKnown(gatewayUrl: string): Promise<JWK[]> {
  for (;;) {
    const answer = await call(`${gatewayUrl}/api/payments/keys.json`);
    if (answer.status === 200) return (answer.body as { keys: JWK[] }).keys;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function pay(
  gatewayUrl: string,
  orderId: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return call(`${gatewayUrl}/api/orders/${orderId}/payments`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

t.test('a clear card is encrypted for payments before it leaves the gateway', async (t) => {
  const system = await startSystem(t);
  const gateway = await system.gateway();
  await keysKnown(gateway.url);
  const userId = randomUUID();
  const token = await signToken(system.key, { userId });
  const orderId = randomUUID();

  const approved = await pay(gateway.url, orderId, token, {
    card: card(approves),
    amountMinor: 1, // ignored: the order's intent says what is owed
  });
  t.equal(approved.status, 200);
  t.match(approved.body, {
    status: 'succeeded',
    orderId,
    cardBrand: 'visa',
    cardLast4: '4242',
    amountMinor: 4_990,
  });
  const [request] = system.standIn.seen;
  t.equal(request?.card.number, approves, 'payments decrypted the card the shopper sent');
  t.equal(request?.orderId, orderId);
  t.equal(request?.userId, userId, 'the caller comes from the token, never from the body');
  t.notMatch(request?.text, approves, 'on the broker the card is ciphertext');
  t.notMatch(request?.text, Buffer.from(approves).toString('base64'));
  t.notMatch(request?.text, /amountMinor/, 'no amount travels to payments');
  t.notMatch(gateway.logs.text(), approves, 'the gateway never logs it');

  const declined = await pay(gateway.url, orderId, token, { card: card(declines) });
  t.equal(declined.status, 402);
  t.match(declined.body, { code: 'payment_declined', reason: 'card_declined', cardLast4: '0002' });
  t.equal(declined.headers.get('content-type'), 'application/problem+json; charset=utf-8');
});

t.test('a card the browser encrypted is passed on untouched', async (t) => {
  const system = await startSystem(t);
  const gateway = await system.gateway();
  const [publicJwk] = await keysKnown(gateway.url);
  t.same(publicJwk, system.standIn.publicJwk, 'the gateway serves the key payments announced');
  t.notOk('d' in publicJwk!, 'and no private part');
  const key = await importJWK(publicJwk!, publicJwk!.alg);
  const encryptedCard = await new CompactEncrypt(
    new TextEncoder().encode(JSON.stringify(card(approves))),
  )
    .setProtectedHeader({ alg: publicJwk!.alg!, enc: 'A256GCM', kid: publicJwk!.kid! })
    .encrypt(key);
  const token = await signToken(system.key, { userId: randomUUID() });
  const answer = await pay(gateway.url, randomUUID(), token, { encryptedCard });
  t.equal(answer.status, 200);
  t.equal(JSON.parse(system.standIn.seen[0]!.text).card, encryptedCard, 'the same JWE');
});

t.test('one request id per caller and key: a repeat is the same request', async (t) => {
  const system = await startSystem(t);
  const gateway = await system.gateway();
  await keysKnown(gateway.url);
  const orderId = randomUUID();
  const alice = await signToken(system.key, { userId: randomUUID() });
  const bob = await signToken(system.key, { userId: randomUUID() });
  const headers = { 'idempotency-key': 'order-42-attempt-1' };
  t.equal((await pay(gateway.url, orderId, alice, { card: card(approves) }, headers)).status, 200);
  t.equal((await pay(gateway.url, orderId, alice, { card: card(approves) }, headers)).status, 200);
  t.equal((await pay(gateway.url, orderId, bob, { card: card(approves) }, headers)).status, 200);
  const [first, repeat, other] = system.standIn.seen.map((seen) => seen.requestId);
  t.equal(repeat, first, 'payments can answer a repeat with its first result');
  t.not(other, first, "another caller's same key is another request");
  t.ok(first!.length <= 100, 'within the contract');
  t.notMatch(first, 'order-42', 'the key itself never travels');
});

t.test(
  'an order payments does not know yet is asked about again, the same request; one it never knows is 404',
  async (t) => {
    const system = await startSystem(t);
    const gateway = await system.gateway();
    await keysKnown(gateway.url);
    const token = await signToken(system.key, { userId: randomUUID() });
    const justPlaced = randomUUID();
    system.standIn.unknown.set(justPlaced, 2);
    const paid = await pay(gateway.url, justPlaced, token, { card: card(approves) });
    t.equal(paid.status, 200, 'paid once its intent arrived');
    const asked = system.standIn.seen.filter((seen) => seen.orderId === justPlaced);
    t.equal(asked.length, 3, 'refused twice, then charged');
    t.equal(new Set(asked.map((seen) => seen.requestId)).size, 1, 'one request, asked again');

    const nobodys = randomUUID();
    system.standIn.unknown.set(nobodys, Number.POSITIVE_INFINITY);
    const unknown = await pay(gateway.url, nobodys, token, { card: card(approves) });
    t.equal(unknown.status, 404);
    t.match(unknown.body, { code: 'unknown_order' });
    t.ok(
      system.standIn.seen.filter((seen) => seen.orderId === nobodys).length > 1,
      'asked again before giving up',
    );
  },
);

t.test('no result within the wait: 202 and where to look', async (t) => {
  const system = await startSystem(t);
  system.standIn.answering = false;
  const gateway = await system.gateway({ PAYMENT_WAIT_MS: '50' });
  await keysKnown(gateway.url);
  const orderId = randomUUID();
  const token = await signToken(system.key, { userId: randomUUID() });
  const answer = await pay(gateway.url, orderId, token, { card: card(approves) });
  t.equal(answer.status, 202);
  t.equal(answer.headers.get('location'), `/api/orders/${orderId}`);
  t.match(answer.body, { status: 'processing', orderId });
  t.equal(system.standIn.seen.length, 1, 'the request did go out');
});

t.test('a result reaches the replica that waits for it, not every replica', async (t) => {
  const system = await startSystem(t);
  const waiting = await system.gateway();
  const other = await system.gateway();
  await Promise.all([keysKnown(waiting.url), keysKnown(other.url)]);
  const token = await signToken(system.key, { userId: randomUUID() });
  t.equal((await pay(waiting.url, randomUUID(), token, { card: card(approves) })).status, 200);
  t.equal((await pay(waiting.url, randomUUID(), token, { card: card(declines) })).status, 402);
  const heard = async (url: string) => {
    const text = (await call(`${url}/metrics`)).body as string;
    return Number(/^gateway_payment_results_heard_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1]);
  };
  t.equal(await heard(waiting.url), 2);
  // A barrier: payments announces a new key after those results, on the same connection. Once the
  // other replica serves it, any result broadcast before it would have reached that replica too
  // (one publisher to one subscriber, in order).
  await system.standIn.client.publishAsync(
    topics.paymentKeys.build(),
    JSON.stringify({
      type: 'payments.keys',
      keys: [{ ...system.standIn.publicJwk, kid: 'card-2' }],
      at: new Date().toISOString(),
    }),
    { qos: 1, retain: true },
  );
  for (;;) {
    const [served] = await keysKnown(other.url);
    if (served?.kid === 'card-2') break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  t.equal(await heard(other.url), 0);
});

t.test('bad input is refused before anything is sent to payments', async (t) => {
  const system = await startSystem(t);
  const gateway = await system.gateway();
  await keysKnown(gateway.url);
  const token = await signToken(system.key, { userId: randomUUID() });
  const orderId = randomUUID();
  const cases: Array<[string, Promise<Awaited<ReturnType<typeof pay>>>, number, string]> = [
    [
      'no key',
      pay(gateway.url, orderId, token, { card: card(approves) }, { 'idempotency-key': '' }),
      400,
      'idempotency_key_required',
    ],
    [
      'a key too long',
      pay(
        gateway.url,
        orderId,
        token,
        { card: card(approves) },
        { 'idempotency-key': 'k'.repeat(256) },
      ),
      400,
      'idempotency_key_required',
    ],
    ['not json', pay(gateway.url, orderId, token, '{"card":'), 400, 'invalid_json'],
    ['not a uuid', pay(gateway.url, 'order-1', token, { card: card(approves) }), 404, 'not_found'],
    ['no card', pay(gateway.url, orderId, token, {}), 400, 'validation_failed'],
    [
      'both',
      pay(gateway.url, orderId, token, { card: card(approves), encryptedCard: 'a.b.c.d.e' }),
      400,
      'validation_failed',
    ],
    [
      'a short number',
      pay(gateway.url, orderId, token, { card: card('4242') }),
      400,
      'validation_failed',
    ],
    [
      'a number as a number',
      pay(gateway.url, orderId, token, { card: { ...card(approves), number: Number(approves) } }),
      400,
      'validation_failed',
    ],
    [
      'month 13',
      pay(gateway.url, orderId, token, { card: { ...card(approves), expMonth: 13 } }),
      400,
      'validation_failed',
    ],
    [
      'a CVC of letters',
      pay(gateway.url, orderId, token, { card: { ...card(approves), cvc: 'abc' } }),
      400,
      'validation_failed',
    ],
    [
      'an unknown field',
      pay(gateway.url, orderId, token, { card: card(approves), tip: 5 }),
      400,
      'validation_failed',
    ],
    [
      'NUL in the holder',
      pay(gateway.url, orderId, token, { card: { ...card(approves), holder: 'a\u0000b' } }),
      400,
      'validation_failed',
    ],
    [
      'not a JWE',
      pay(gateway.url, orderId, token, { encryptedCard: approves }),
      400,
      'validation_failed',
    ],
    ['an array', pay(gateway.url, orderId, token, [card(approves)]), 400, 'validation_failed'],
    [
      'too large',
      pay(gateway.url, orderId, token, { card: card(approves), holder: 'x'.repeat(20_000) }),
      413,
      'payload_too_large',
    ],
  ];
  for (const [label, answer, status, code] of cases) {
    const { status: got, body } = await answer;
    t.equal(got, status, `${label}: ${status}`);
    t.match(body, { code }, `${label}: ${code}`);
    t.notMatch(JSON.stringify(body), approves, `${label}: the number is never echoed`);
  }
  const text = await call(`${gateway.url}/api/orders/${orderId}/payments`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'text/plain',
      'idempotency-key': 'k',
    },
    body: 'card',
  });
  t.equal(text.status, 415);
  const anonymous = await call(`${gateway.url}/api/orders/${orderId}/payments`, { method: 'POST' });
  t.equal(anonymous.status, 401);
  // One valid request after them: it is the only one payments ever saw.
  t.equal((await pay(gateway.url, orderId, token, { card: card(approves) })).status, 200);
  t.equal(system.standIn.seen.length, 1, 'none of the refused requests reached payments');
  t.notMatch(gateway.logs.text(), approves);
});

t.test('until payments has announced its keys, paying answers 503', async (t) => {
  const broker = await startTestBroker(t);
  const key = await newKey('k1');
  const jwks = await startJwks(t, [key]);
  const usersUrl = await startUsersStandIn(t);
  const gateway = await startGateway(t, {
    USERS_URLS: usersUrl,
    JWKS_URL: jwks.url,
    MQTT_URL: broker.url,
    MQTT_PASSWORD: testMqttPassword('gateway'),
  });
  const token = await signToken(key, { userId: randomUUID() });
  const answer = await pay(gateway.url, randomUUID(), token, { card: card(approves) });
  t.equal(answer.status, 503);
  t.match(answer.body, { code: 'service_unavailable' });
  t.equal((await call(`${gateway.url}/api/payments/keys.json`)).status, 503);
});

t.test('without a broker the route answers 503 and reaches no service', async (t) => {
  const key = await newKey('k1');
  const jwks = await startJwks(t, [key]);
  const gateway = await startGateway(t, {
    ORDERS_URLS: 'http://127.0.0.1:1',
    USERS_URLS: 'http://127.0.0.1:1',
    JWKS_URL: jwks.url,
  });
  const token = await signToken(key, { userId: randomUUID() });
  const answer = await pay(gateway.url, randomUUID(), token, { card: card(approves) });
  t.equal(answer.status, 503);
  t.notMatch(gateway.logs.text(), approves);
});
