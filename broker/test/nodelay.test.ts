import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { selfSigned, startBroker } from './helpers.js';

/**
 * TCP_NODELAY on both ends of every MQTT connection: with Nagle and delayed ACKs a QoS 1 round
 * trip takes ~88 ms instead of well under 1 ms. Timing it would flake on a shared machine, so the
 * test reads each socket's own state: Node keeps whether Nagle is off on the socket (the
 * `kSetNoDelay` symbol that `setNoDelay` and the server's `noDelay` option write), so this sees
 * what the socket really has, whoever set it — not whether some function was called.
 */
function noDelayOf(socket: net.Socket): boolean | undefined {
  const state = Object.getOwnPropertySymbols(socket).find(
    (symbol) => symbol.description === 'kSetNoDelay',
  );
  return state === undefined ? undefined : (socket as unknown as Record<symbol, boolean>)[state];
}

t.test('every MQTT socket, the broker’s and the kit client’s, has TCP_NODELAY', async (t) => {
  const { cert, key } = selfSigned(t, 'broker');
  const { broker, listeners, service, browser } = await startBroker(t, {
    TLS_CERT_FILE: cert,
    TLS_KEY_FILE: key,
    MQTTS_PORT: '0',
  });
  // What each listener hands the broker: the accepted socket (TCP, TLS), or a WebSocket stream
  // with the upgrade request, whose socket is the accepted TCP connection.
  const handed: Array<{ stream: Duplex; request?: IncomingMessage | undefined }> = [];
  const handle = broker.handle;
  broker.handle = function recordHanded(stream, from) {
    handed.push({ stream, request: from?.request });
    handle(stream, from);
  };

  const overTcp = await service('orders');
  t.equal(noDelayOf(overTcp.stream as net.Socket), true, 'the kit client has Nagle off');
  t.equal(noDelayOf(handed[0]!.stream as net.Socket), true, 'so has the accepted TCP socket');

  const overTls = await service('orders', listeners.mqttsUrl!, { ca: readFileSync(cert) });
  t.ok(overTls.connected);
  t.equal(noDelayOf(handed[1]!.stream as net.Socket), true, 'and the accepted TLS socket');

  const overWebSocket = await browser('3f0d7f4e-0000-4000-8000-000000000009', listeners.wsUrl);
  t.ok(overWebSocket.connected);
  t.equal(handed.length, 3);
  t.equal(
    noDelayOf(handed[2]!.request!.socket),
    true,
    'and the TCP connection a WebSocket was upgraded from',
  );
});
