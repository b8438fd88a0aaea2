import net from 'node:net';
import t from 'tap';
import { startBroker } from './helpers.js';

/**
 * TCP_NODELAY on both ends of every MQTT connection: with Nagle and delayed ACKs a QoS 1 round
 * trip takes ~88 ms instead of well under 1 ms (TOOLCHAIN.md). Timing it would flake on a shared
 * machine, so the test records which sockets had Nagle turned off.
 */
t.test('every MQTT socket, the broker’s and the kit client’s, has TCP_NODELAY', async (t) => {
  const noDelay = new Set<net.Socket>();
  const setNoDelay = net.Socket.prototype.setNoDelay;
  net.Socket.prototype.setNoDelay = function recordNoDelay(this: net.Socket, enable?: boolean) {
    if (enable !== false) noDelay.add(this);
    return setNoDelay.call(this, enable);
  };
  t.teardown(() => {
    net.Socket.prototype.setNoDelay = setNoDelay;
  });
  const { listeners, service, browser } = await startBroker(t);
  const serverSideOf = (client: net.Socket) =>
    [...noDelay].find((socket) => socket !== client && socket.remotePort === client.localPort);

  const overTcp = await service('orders');
  const clientSocket = overTcp.stream as net.Socket;
  t.ok(noDelay.has(clientSocket), 'the kit client turned Nagle off on its socket');
  t.ok(serverSideOf(clientSocket), 'the broker turned it off on the accepted socket');

  const overWebSocket = await browser('3f0d7f4e-0000-4000-8000-000000000009', listeners.wsUrl);
  t.ok(overWebSocket.connected);
  const upgraded = [...noDelay].filter(
    (socket) => socket.localPort === Number(new URL(listeners.httpUrl).port),
  );
  t.ok(upgraded.length >= 1, 'and on the socket of a WebSocket upgrade');
});
