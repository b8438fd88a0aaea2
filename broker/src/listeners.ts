import { readFileSync } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { buildHttpApp, listen } from '@mercado/common/http';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import type { MercadoBroker } from './broker.js';
import type { BrokerConfig } from './config.js';

export interface BrokerListeners {
  mqttUrl: string;
  /** MQTT_PROXY_PORT's listener, when set: MQTT behind a PROXY protocol header. */
  mqttProxyUrl?: string;
  mqttsUrl?: string;
  /** The HTTP port: /health/*, /metrics, and MQTT over WebSocket at ws://…/mqtt. */
  httpUrl: string;
  wsUrl: string;
  close(): Promise<void>;
}

function listening(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/**
 * MQTT over WebSocket at `/mqtt` on an HTTP server (browsers; any other path of an upgrade is
 * 404). Returns the WebSocket server, for closing.
 */
export function acceptWebSockets(
  server: http.Server,
  broker: MercadoBroker,
  maxPacketBytes: number,
): WebSocketServer {
  const websockets = new WebSocketServer({
    noServer: true,
    maxPayload: maxPacketBytes + 8,
    perMessageDeflate: false,
  });
  server.on('upgrade', function onUpgrade(request, socket, head) {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/mqtt') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    // No setNoDelay here: Node's HTTP server accepts every connection with it (its `noDelay`
    // option defaults to true since Node 18, nodejs/node#42163), and ws sets it again on upgrade.
    websockets.handleUpgrade(request, socket, head, function onWebSocket(ws) {
      broker.handle(createWebSocketStream(ws), { request });
    });
  });
  return websockets;
}

/**
 * Opens the broker's listeners: MQTT over TCP, behind a PROXY header on MQTT_PROXY_PORT when it is
 * set, over TLS when a certificate and key are configured,
 * and over WebSocket at /mqtt on the HTTP port that also serves health and metrics. Every socket
 * gets TCP_NODELAY: with Nagle and delayed ACKs a QoS 1 round trip takes ~88 ms, without them
 * well under 1 ms (test/nodelay.test.ts reads each socket's state).
 */
export async function startListeners(
  broker: MercadoBroker,
  { config, log, metrics }: { config: BrokerConfig; log: Logger; metrics: Metrics },
): Promise<BrokerListeners> {
  // net and tls servers accept with Nagle on: TCP_NODELAY is set on each accepted socket.
  const tcp = net.createServer(function onMqttConnection(socket) {
    socket.setNoDelay(true);
    broker.handle(socket);
  });
  const mqttPort = await listening(tcp, config.HOST, config.MQTT_PORT);

  // The load balancer's own port: a PROXY header first (guards/proxy-header.ts), then MQTT.
  let proxied: net.Server | undefined;
  let mqttProxyPort: number | undefined;
  if (config.MQTT_PROXY_PORT !== undefined) {
    proxied = net.createServer(function onProxiedConnection(socket) {
      socket.setNoDelay(true);
      broker.handleProxied(socket);
    });
    mqttProxyPort = await listening(proxied, config.HOST, config.MQTT_PROXY_PORT);
  }

  let secure: tls.Server | undefined;
  let mqttsPort: number | undefined;
  if (config.TLS_CERT_FILE && config.TLS_KEY_FILE) {
    secure = tls.createServer(
      { cert: readFileSync(config.TLS_CERT_FILE), key: readFileSync(config.TLS_KEY_FILE) },
      function onMqttsConnection(socket) {
        socket.setNoDelay(true);
        broker.handle(socket);
      },
    );
    mqttsPort = await listening(secure, config.HOST, config.MQTTS_PORT);
  }

  const app = buildHttpApp({
    name: 'broker',
    log,
    metrics,
    bodyLimitBytes: 1024,
    readiness: {
      broker: async () => {
        if (broker.aedes.closed) throw new Error('closed');
      },
    },
    routes() {},
  });
  const http = await listen(app, { host: config.HOST, port: config.PORT });
  const websockets = acceptWebSockets(http.server, broker, config.MAX_PACKET_BYTES);

  return {
    mqttUrl: `mqtt://${config.HOST}:${mqttPort}`,
    ...(mqttProxyPort ? { mqttProxyUrl: `mqtt://${config.HOST}:${mqttProxyPort}` } : {}),
    ...(mqttsPort ? { mqttsUrl: `mqtts://${config.HOST}:${mqttsPort}` } : {}),
    httpUrl: http.url,
    wsUrl: `${http.url.replace(/^http/, 'ws')}/mqtt`,
    async close() {
      await new Promise((resolve) => tcp.close(resolve));
      if (proxied) await new Promise((resolve) => proxied.close(resolve));
      if (secure) await new Promise((resolve) => secure.close(resolve));
      websockets.close();
      await http.close(1_000);
    },
  };
}
