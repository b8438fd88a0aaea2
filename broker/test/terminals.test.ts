import t from 'tap';
import { connectMqtt } from '@mercado/common/mqtt';
import { eventually, refusedWith, startBroker } from './helpers.js';

t.test('a terminal removed from the registry is disconnected at the next check', async (t) => {
  const { registerTerminal, terminal, terminals, terminalOptions, listeners, metric } =
    await startBroker(t, { TERMINAL_CHECK_TTL_MS: '1000' });
  registerTerminal('shop-1');
  registerTerminal('shop-2');
  const removed = await terminal('shop-1');
  const kept = await terminal('shop-2');
  const options = terminalOptions('shop-1');
  const closed = new Promise<void>((resolve) => removed.once('close', () => resolve()));

  terminals.delete('shop-1');
  await closed;
  t.pass('its open connection was closed');
  t.equal(await refusedWith(listeners.mqttUrl, options), 4, 'and it cannot come back');
  t.ok(await eventually(() => kept.connected, 1_500), 'a registered terminal stays');
  t.ok(kept.connected);
  t.equal(await metric('mqtt_denied_total', { action: 'recheck', kind: 'terminal' }), 1);
});

t.test('a registry that cannot answer refuses terminals as "server unavailable"', async (t) => {
  const { listeners } = await startBroker(
    t,
    {},
    { verifyTerminal: () => Promise.reject(new Error('users service unreachable')) },
  );
  t.equal(
    await refusedWith(listeners.mqttUrl, {
      clientId: 'terminal-shop-1',
      username: 'terminal:shop-1',
      password: 'whatever',
    }),
    3,
    'CONNACK 3: the terminal retries, and is not told its secret is wrong',
  );
  // Nothing else depends on the registry.
  const client = await connectMqtt(listeners.mqttUrl, {
    reconnectPeriod: 0,
    clientId: 'terminal-shop-1',
    username: 'nobody',
    password: 'x',
  }).catch((error: { code?: number }) => error.code);
  t.equal(client, 4, 'an unknown username is still just bad credentials');
});
