import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  Inbox,
  exitWithin,
  publishOutcome,
  refusedWith,
  run,
  selfSigned,
  startBroker,
  validMessage,
} from './helpers.js';
import { testServiceMqttCredentials } from '@mercado/common/testing';

/** MQTT over TLS: a self-signed certificate for this run, and the broker's MQTTS listener. */

const userA = '3f0d7f4e-0000-4000-8000-0000000000d1';
const order = '5b1d3c2a-0000-4000-8000-0000000000f1';

t.test('MQTT over TLS', async (t) => {
  const server = selfSigned(t, 'broker');
  const stranger = selfSigned(t, 'stranger');
  const ca = readFileSync(server.cert);
  const broker = await startBroker(t, {
    TLS_CERT_FILE: server.cert,
    TLS_KEY_FILE: server.key,
    MQTTS_PORT: '0',
  });
  const mqttsUrl = broker.listeners.mqttsUrl;
  t.match(mqttsUrl, /^mqtts:\/\/127\.0\.0\.1:\d+$/, 'the listeners report the MQTTS URL');
  if (!mqttsUrl) return;
  const mqttsPort = new URL(mqttsUrl).port;

  await t.test('mqtt.js with the CA connects, authenticates and exchanges', async (t) => {
    const gateway = new Inbox(await broker.service('gateway', mqttsUrl, { ca }));
    await gateway.client.subscribeAsync('orders/+/+/status', { qos: 1 });
    const orders = await broker.service('orders', mqttsUrl, { ca });
    const message = validMessage(`orders/${userA}/${order}/status`);
    t.equal(
      await publishOutcome(orders, `orders/${userA}/${order}/status`, message.payload),
      'acked',
    );
    t.equal((await gateway.waitForMarker(message.marker))?.payload, message.payload);
    t.equal(
      await refusedWith(mqttsUrl, {
        ca,
        clientId: 'orders-bad',
        username: 'service:orders',
        password: 'wrong',
      }),
      4,
      'over TLS too, a wrong password is refused',
    );
  });

  await t.test('a client that does not trust the certificate fails', async (t) => {
    const untrusted = await refusedWith(mqttsUrl, broker.serviceOptions('orders'));
    t.match(untrusted, /SELF_SIGNED/, 'no CA: the certificate is refused');
    const wrongCa = await refusedWith(mqttsUrl, {
      ...broker.serviceOptions('orders'),
      ca: readFileSync(stranger.cert),
    });
    t.match(wrongCa, /SELF_SIGNED|UNABLE_TO_VERIFY/, 'another CA: refused');
  });

  await t.test('mosquitto_pub --cafile publishes over TLS', async (t) => {
    const gateway = new Inbox(await broker.service('gateway', mqttsUrl, { ca }));
    await gateway.client.subscribeAsync('orders/+/+/status', { qos: 1 });
    const { username, password } = testServiceMqttCredentials('orders');
    const message = validMessage(`orders/${userA}/${order}/status`);
    const args = (cafile: string) => [
      '--cafile',
      cafile,
      '-h',
      '127.0.0.1',
      '-p',
      mqttsPort,
      '-u',
      username,
      '-P',
      password,
      '-i',
      `orders-mosquitto-${process.pid}`,
      '-q',
      '1',
      '-V',
      'mqttv311',
      '-t',
      `orders/${userA}/${order}/status`,
      '-m',
      message.payload,
    ];
    const pub = run(t, 'mosquitto_pub', args(server.cert));
    t.equal(await exitWithin(pub), 0, `published (${pub.stderr().trim()})`);
    t.equal((await gateway.waitForMarker(message.marker))?.payload, message.payload);

    const untrusted = run(t, 'mosquitto_pub', args(stranger.cert));
    t.not(await exitWithin(untrusted), 0, 'with a CA that did not sign it: fails');
  });

  await t.test('plain MQTT still listens next to it', async (t) => {
    t.ok((await broker.service('orders')).connected);
    t.equal(await broker.readiness(), 200);
  });
});
