import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  Inbox,
  exitWithin,
  publishOutcome,
  refusedWith,
  run,
  startBroker,
  validMessage,
} from './helpers.js';
import { testServiceMqttCredentials } from '@mercado/common/testing';

/**
 * MQTT over TLS: a self-signed certificate for 127.0.0.1, made with the openssl CLI for this run
 * (node:crypto cannot issue X.509 certificates), and the broker's MQTTS listener on a free port.
 */

const userA = '3f0d7f4e-0000-4000-8000-0000000000d1';
const order = '5b1d3c2a-0000-4000-8000-0000000000f1';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mercado-broker-tls-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A P-256 key and a certificate for 127.0.0.1 (the SAN is what clients check), valid a day. */
function selfSigned(name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

t.test('MQTT over TLS', async (t) => {
  const server = selfSigned('broker');
  const stranger = selfSigned('stranger');
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
