import t from 'tap';
import { type MqttClient } from '@mercado/common/mqtt';
import { testServiceMqttCredentials } from '@mercado/common/testing';
import { eventually, metricValue, run, startBroker, validMessage } from './helpers.js';

const group = '$share/payments/payments/requests';

/** The request ids a member receives (each payment request's `requestId`). */
function received(client: MqttClient): string[] {
  const ids: string[] = [];
  client.on('message', function onRequest(_topic, payload) {
    ids.push((JSON.parse(payload.toString()) as { requestId: string }).requestId);
  });
  return ids;
}

async function publishRequests(gateway: MqttClient, count: number): Promise<string[]> {
  const sent: string[] = [];
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const { payload, marker } = validMessage('payments/requests');
    sent.push(marker);
    inFlight.push(gateway.publishAsync('payments/requests', payload, { qos: 1 }));
    if (inFlight.length === 100) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  return sent;
}

t.test('payments replicas share payments/requests: each request to exactly one', async (t) => {
  const { service, metricsText } = await startBroker(t);
  const members = [await service('payments'), await service('payments'), await service('payments')];
  const got = members.map(received);
  for (const member of members) {
    t.same(
      (await member.subscribeAsync(group, { qos: 1 })).map((grant) => grant.qos),
      [1],
      'granted at QoS 1',
    );
  }
  const gateway = await service('gateway');
  const sent = await publishRequests(gateway, 3_000);

  t.ok(await eventually(() => got.flat().length >= 3_000, 10_000), 'all 3,000 delivered');
  const all = got.flat();
  t.equal(all.length, 3_000, 'none delivered twice');
  t.same(new Set(all), new Set(sent), 'each one once');
  t.same(
    got.map((ids) => ids.length),
    [1_000, 1_000, 1_000],
    'round robin: a third each',
  );
  const text = await metricsText();
  t.equal(metricValue(text, 'mqtt_shared_members'), 3);
  t.equal(metricValue(text, 'mqtt_shared_groups'), 1);
});

t.test('a replica killed with unacknowledged requests loses none of them', async (t) => {
  const { service, metricsText } = await startBroker(t);
  const survivors = [await service('payments'), await service('payments')];
  const got = survivors.map(received);
  // A replica that never acknowledges: mqtt.js sends PUBACK only when handleMessage calls back
  // (and reads no further packet meanwhile), so all the broker hands it stays in flight.
  const doomed = await service('payments');
  const taken: string[] = [];
  doomed.handleMessage = function neverAcknowledge(packet) {
    const payload = (packet as { payload: Buffer }).payload;
    taken.push((JSON.parse(payload.toString()) as { requestId: string }).requestId);
  };
  doomed.on('error', () => {});
  for (const member of [...survivors, doomed]) await member.subscribeAsync(group, { qos: 1 });

  const gateway = await service('gateway');
  const first = await publishRequests(gateway, 600);
  const inflight = async () => metricValue(await metricsText(), 'mqtt_shared_inflight');
  t.ok(
    await eventually(async () => got.flat().length + (await inflight()) === 600),
    'the first 600 are either at a survivor or in flight at the doomed one',
  );
  const inflightAtKill = await inflight();
  t.ok(inflightAtKill > 0 && taken.length > 0, `in flight at the doomed one: ${inflightAtKill}`);
  doomed.stream.destroy();
  const second = await publishRequests(gateway, 600);

  const survived = () => new Set(got.flat());
  t.ok(
    await eventually(() => [...first, ...second].every((id) => survived().has(id)), 10_000),
    'every request reached a live replica, including those the dead one had not acknowledged',
  );
  t.ok(
    taken.every((id) => survived().has(id)),
    `what it had taken (${taken.length}) was handed on`,
  );
  t.equal(
    metricValue(await metricsText(), 'mqtt_shared_redelivered_total'),
    inflightAtKill,
    'each message in flight at the kill counted as redelivered',
  );
  t.equal(got.flat().length, 1_200, 'and each request reached one survivor only');
});

t.test(
  'mosquitto_sub, as a payments replica, is a member of the group on Mercado’s broker',
  async (t) => {
    const { service, port, metric } = await startBroker(t);
    const members = [await service('payments'), await service('payments')];
    const got = members.map(received);
    for (const member of members) await member.subscribeAsync(group, { qos: 1 });
    const { username, password } = testServiceMqttCredentials('payments');
    // A foreign client, authenticated like any replica: its client id in the service's namespace.
    const foreign = run(t, 'mosquitto_sub', [
      ...['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311'],
      ...['-i', 'payments-mosquitto', '-u', username, '-P', password],
      ...['-q', '1', '-t', group, '-C', '100', '-W', '120'],
    ]);
    t.ok(
      await eventually(async () => (await metric('mqtt_shared_members')) === 3, 10_000),
      'it joined the group',
    );

    const gateway = await service('gateway');
    const sent = await publishRequests(gateway, 300);
    t.equal(await foreign.exited, 0, 'mosquitto_sub exited after its 100 requests');
    const viaMosquitto = foreign
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { requestId: string }).requestId);
    t.ok(await eventually(() => got.flat().length + viaMosquitto.length >= 300, 10_000));
    t.same(
      [viaMosquitto.length, ...got.map((ids) => ids.length)],
      [100, 100, 100],
      'round robin over the three members',
    );
    const all = [...viaMosquitto, ...got.flat()];
    t.equal(all.length, 300, 'none delivered twice');
    t.same(new Set(all), new Set(sent), 'each request once');
  },
);
