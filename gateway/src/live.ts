import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { createProxyMiddleware } from 'http-proxy-middleware';
import type { Logger } from '@mercado/common/log';

/**
 * `/mqtt` at the gateway's own origin: the WebSocket upgrade of a browser's live connection,
 * passed through to the broker's MQTT-over-WebSocket listener (BROKER_WS_URL). This is `npm
 * start`'s one URL; behind nginx, the load balancer routes `/mqtt` to the broker nodes itself.
 *
 * Nothing is read or changed on the way: the browser authenticates to the broker with its access
 * token in the MQTT CONNECT (username `browser`), and the broker alone decides what it may
 * subscribe to. No cookie rides along, so another site's page opening this socket gains nothing.
 * Any other upgrade path is refused (404). Open sockets are ended on close().
 */
export interface LiveBridge {
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export function createLiveBridge({
  brokerWsUrl,
  log,
}: {
  brokerWsUrl: string;
  log: Logger;
}): LiveBridge {
  const target = new URL(brokerWsUrl);
  const sockets = new Set<Duplex>();
  const proxy = createProxyMiddleware({
    target: `${target.protocol === 'wss:' ? 'https' : 'http'}://${target.host}`,
    ws: true,
    pathRewrite: () => target.pathname + target.search,
    on: {
      error(error, _req, res) {
        log.warn({ err: { message: error.message } }, 'live connection to the broker failed');
        // For an upgrade, `res` is the client's socket.
        if ('destroy' in res) res.destroy();
      },
    },
  });
  return {
    upgrade(req, socket, head) {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/mqtt') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      proxy.upgrade(
        req as Parameters<typeof proxy.upgrade>[0],
        socket as Parameters<typeof proxy.upgrade>[1],
        head,
      );
    },
    close() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
  };
}
