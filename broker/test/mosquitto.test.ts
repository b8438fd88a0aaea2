import t from 'tap';
import {
  Inbox,
  exitWithin,
  run,
  publishOutcome,
  sleep,
  startBroker,
  subscribeCodes,
  validMessage,
  type Teardown,
  type TestBroker,
} from './helpers.js';
import { testServiceMqttCredentials } from '@mercado/common/testing';
import type { MqttServiceName } from '@mercado/common/contract';

/**
 * mosquitto_pub / mosquitto_sub (Debian's mosquitto-clients, installed by the test runner) as a
 * foreign MQTT 3.1.1 client, the way a real payment terminal or another team's tool would talk to
 * the broker: nothing here goes through mqtt.js on the client side.
 */

const T1 = 'pos-0201';
const T2 = 'pos-0202';
const userA = '3f0d7f4e-0000-4000-8000-0000000000c1';
const order = '5b1d3c2a-0000-4000-8000-0000000000e1';

function connection(broker: TestBroker, username: string, password: string, clientId: string) {
  return [
    '-h',
    '127.0.0.1',
    '-p',
    String(broker.port),
    '-u',
    username,
    '-P',
    password,
    '-i',
    clientId,
    '-q',
    '1',
    '-V',
    'mqttv311',
  ];
}

/**
 * Resolves when the broker has granted a subscription to `clientId` (mosquitto_sub's own output
 * is block-buffered on a pipe, so it cannot say when it is ready).
 */
function subscribed(broker: TestBroker, clientId: string, timeoutMs = 5_000): Promise<boolean> {
  const aedes = broker.broker.aedes;
  return new Promise((resolve) => {
    const timer = setTimeout(() => settle(false), timeoutMs);
    function onSubscribe(_subscriptions: unknown, client: { id: string }) {
      if (client.id === clientId) settle(true);
    }
    function settle(result: boolean) {
      clearTimeout(timer);
      aedes.off('subscribe', onSubscribe);
      resolve(result);
    }
    aedes.on('subscribe', onSubscribe);
  });
}

async function setUp(t: Teardown) {
  const broker = await startBroker(t);
  const secrets: Record<string, string> = {
    [T1]: broker.registerTerminal(T1),
    [T2]: broker.registerTerminal(T2),
  };
  const asTerminal = (id: string) =>
    connection(broker, `terminal:${id}`, secrets[id]!, `terminal-${id}`);
  const asService = (name: MqttServiceName) => {
    const { username, password } = testServiceMqttCredentials(name);
    return connection(broker, username, password, `${name}-mosquitto-${process.pid}`);
  };
  return { broker, asTerminal, asService };
}

t.test('a terminal on mosquitto_pub publishes its status and a payment request', async (t) => {
  const { broker, asTerminal } = await setUp(t);
  const payments = new Inbox(await broker.service('payments'));
  await payments.client.subscribeAsync(['terminals/+/status', 'terminals/+/requests'], { qos: 1 });

  const status = validMessage(`terminals/${T1}/status`);
  const pub = run(t, 'mosquitto_pub', [
    ...asTerminal(T1),
    '-r',
    '-t',
    `terminals/${T1}/status`,
    '-m',
    status.payload,
  ]);
  t.equal(await pub.exited, 0, `status published (${pub.stderr().trim()})`);
  const request = validMessage(`terminals/${T1}/requests`);
  const pubRequest = run(t, 'mosquitto_pub', [
    ...asTerminal(T1),
    '-t',
    `terminals/${T1}/requests`,
    '-m',
    request.payload,
  ]);
  t.equal(await pubRequest.exited, 0, `request published (${pubRequest.stderr().trim()})`);

  t.equal((await payments.waitForMarker(status.marker))?.payload, status.payload);
  t.equal((await payments.waitForMarker(request.marker))?.payload, request.payload);
  const late = new Inbox(await broker.service('gateway'));
  await late.client.subscribeAsync('terminals/+/status', { qos: 1 });
  t.equal(
    (await late.waitForMarker(status.marker))?.retain,
    true,
    'the status was kept as a retained message',
  );
});

t.test('mosquitto_sub receives what mqtt.js clients publish', async (t) => {
  const { broker, asTerminal, asService } = await setUp(t);

  // The gateway reading every order's status.
  const gatewayReady = subscribed(broker, `gateway-mosquitto-${process.pid}`);
  const terminalReady = subscribed(broker, `terminal-${T1}`);
  const gatewaySub = run(t, 'mosquitto_sub', [
    ...asService('gateway'),
    '-v',
    '-C',
    '2',
    '-t',
    'orders/+/+/status',
  ]);
  // A terminal reading its own results.
  const terminalSub = run(t, 'mosquitto_sub', [
    ...asTerminal(T1),
    '-v',
    '-C',
    '1',
    '-t',
    `terminals/${T1}/results`,
  ]);
  t.ok(await gatewayReady, 'the gateway subscribed');
  t.ok(await terminalReady, 'the terminal subscribed');

  const orders = await broker.service('orders');
  const first = validMessage(`orders/${userA}/${order}/status`);
  const second = validMessage(`orders/${userA}/${order}/status`);
  t.equal(await publishOutcome(orders, `orders/${userA}/${order}/status`, first.payload), 'acked');
  t.equal(await publishOutcome(orders, `orders/${userA}/${order}/status`, second.payload), 'acked');
  const payments = await broker.service('payments');
  const result = validMessage(`terminals/${T1}/results`);
  t.equal(await publishOutcome(payments, `terminals/${T1}/results`, result.payload), 'acked');

  t.equal(await exitWithin(gatewaySub), 0, 'mosquitto_sub exits after its 2 messages');
  t.match(gatewaySub.stdout(), `orders/${userA}/${order}/status ${first.payload}`);
  t.match(gatewaySub.stdout(), `orders/${userA}/${order}/status ${second.payload}`);
  t.equal(await exitWithin(terminalSub), 0, "the terminal's mosquitto_sub got its result");
  t.match(terminalSub.stdout(), `terminals/${T1}/results ${result.payload}`);
});

t.test('mosquitto_pub with bad or no credentials is refused', async (t) => {
  const { broker, asTerminal } = await setUp(t);
  const payments = new Inbox(await broker.service('payments'));
  await payments.client.subscribeAsync('terminals/+/status', { qos: 1 });
  const message = validMessage(`terminals/${T1}/status`);
  const topic = ['-t', `terminals/${T1}/status`, '-m', message.payload];

  const wrongSecret = asTerminal(T1);
  wrongSecret[wrongSecret.indexOf('-P') + 1] = 'not-the-secret';
  const bad = run(t, 'mosquitto_pub', [...wrongSecret, ...topic]);
  t.not(await exitWithin(bad), 0, 'a wrong secret: non-zero exit');
  t.match(bad.stderr(), /bad user name or password/);

  const anonymous = run(t, 'mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(broker.port),
    '-i',
    'anonymous-1',
    '-q',
    '1',
    '-V',
    'mqttv311',
    ...topic,
  ]);
  t.not(await exitWithin(anonymous), 0, 'no credentials: non-zero exit');
  t.match(anonymous.stderr(), /not authori[sz]ed/i);

  const services = testServiceMqttCredentials('orders');
  const wrongId = run(t, 'mosquitto_pub', [
    ...connection(broker, services.username, services.password, `terminal-${T1}`),
    ...topic,
  ]);
  t.not(await exitWithin(wrongId), 0, "a service with a terminal's client id: non-zero exit");
  t.match(wrongId.stderr(), /identifier rejected/i);

  await sleep(100);
  t.notOk(payments.has(message.marker), 'nothing was published');
});

t.test('mosquitto clients meet the contract: denied filters and topics', async (t) => {
  const { broker, asTerminal } = await setUp(t);
  const payments = new Inbox(await broker.service('payments'));
  t.strictSame(
    await subscribeCodes(payments.client, ['terminals/+/status', 'terminals/+/requests']),
    [1, 1],
  );

  // mosquitto_sub gives up when every filter is refused (SUBACK 0x80): it prints this and exits
  // (with status 0 in mosquitto 2.0.11, so only the exit itself is asserted).
  const denied = run(t, 'mosquitto_sub', [...asTerminal(T1), '-t', 'terminals/+/requests']);
  t.not(await exitWithin(denied), 'running', 'mosquitto_sub exits on its own');
  t.match(denied.stderr(), /All subscription requests were denied/);
  const deniedShare = run(t, 'mosquitto_sub', [
    ...asTerminal(T2),
    '-t',
    '$share/payments/payments/requests',
  ]);
  t.not(await exitWithin(deniedShare), 'running', 'a terminal joining the payments group');
  t.match(deniedShare.stderr(), /All subscription requests were denied/);

  // A terminal claiming another terminal's status: the broker drops the connection.
  const forged = validMessage(`terminals/${T2}/status`);
  const forging = run(t, 'mosquitto_pub', [
    ...asTerminal(T1),
    '-r',
    '-t',
    `terminals/${T2}/status`,
    '-m',
    forged.payload,
  ]);
  t.not(await exitWithin(forging), 0, 'mosquitto_pub fails');
  t.match(forging.stderr(), /connection was lost/i);

  // A payload that is not what the contract says: acknowledged, then dropped.
  const invalid = run(t, 'mosquitto_pub', [
    ...asTerminal(T1),
    '-t',
    `terminals/${T1}/requests`,
    '-m',
    '{"type":"terminal.payment_requested","card":"4111111111111111"}',
  ]);
  t.equal(await exitWithin(invalid), 0, 'an invalid payload is acknowledged');
  await sleep(200);
  t.notOk(payments.has(forged.marker), 'payments did not receive the forged status');
  t.notOk(
    payments.find((message) => message.topic === `terminals/${T1}/requests`),
    'nor the invalid request',
  );
  t.equal(
    await broker.metric('mqtt_invalid_payloads_total', { reason: 'invalid_payload' }),
    1,
    'the invalid payload was counted',
  );
  t.ok(payments.client.connected);
});
