import net from 'node:net';
import t from 'tap';
import { startTestBroker } from '@mercado/broker/testing';
import { connectMqtt } from '@mercado/common/mqtt';
import { testServiceMqttCredentials } from '@mercado/common/testing';
import { startEcho, startGateway } from './helpers.js';

/** The status line the gateway answers an upgrade to `path` with, read off a raw socket. */
function upgradeAnswer(url: string, path: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
          'Sec-WebSocket-Protocol: mqtt\r\n\r\n',
      );
    });
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n')) {
        resolve(text.slice(0, text.indexOf('\r\n')));
        socket.destroy();
      }
    });
    socket.on('error', reject);
  });
}

t.test('/mqtt at the gateway is the broker over WebSocket; nothing else upgrades', async (t) => {
  const broker = await startTestBroker(t, {}, { websocket: true });
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(t, { USERS_URLS: users.url, BROKER_WS_URL: broker.wsUrl! });

  const client = await connectMqtt(`${gateway.url.replace(/^http/, 'ws')}/mqtt`, {
    ...testServiceMqttCredentials('orders'),
    clientId: `orders-${crypto.randomUUID()}`,
    reconnectPeriod: 0,
  });
  t.teardown(() => client.endAsync(true));
  // Orders hears payment results over the gateway's /mqtt; payments publishes over plain TCP.
  const orderId = crypto.randomUUID();
  await client.subscribeAsync(`payments/results/${orderId}`, { qos: 1 });
  const heard = new Promise<string>((resolve) =>
    client.once('message', (_topic, payload) => resolve(payload.toString())),
  );
  const payments = await connectMqtt(broker.url, {
    ...testServiceMqttCredentials('payments'),
    clientId: `payments-${crypto.randomUUID()}`,
    reconnectPeriod: 0,
  });
  t.teardown(() => payments.endAsync(true));
  const result = {
    type: 'payment.approved',
    id: crypto.randomUUID(),
    requestId: 'live-test',
    orderId,
    at: new Date().toISOString(),
  };
  await payments.publishAsync(`payments/results/${orderId}`, JSON.stringify(result), { qos: 1 });
  t.same(JSON.parse(await heard), result, 'through the gateway to the broker and back');

  t.match(await upgradeAnswer(gateway.url, '/api/mqtt'), /^HTTP\/1\.1 404/, 'only /mqtt');
  t.match(await upgradeAnswer(gateway.url, '/'), /^HTTP\/1\.1 404/);
  t.match(await upgradeAnswer(gateway.url, '/mqtt'), /^HTTP\/1\.1 101/);
});

t.test('without BROKER_WS_URL, /mqtt does not upgrade', async (t) => {
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(t, { USERS_URLS: users.url });
  t.match(await upgradeAnswer(gateway.url, '/mqtt'), /^HTTP\/1\.1 404/);
});
