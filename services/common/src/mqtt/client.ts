import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '../log/logger.js';

export type { IClientOptions, MqttClient } from 'mqtt';

/**
 * Creates a Mercado MQTT client that connects in the background and keeps reconnecting, without
 * waiting for anything: for a process that must start (and keep serving) while the broker is
 * down, such as one relaying an outbox. TCP sockets get TCP_NODELAY: with Nagle and delayed ACKs
 * a QoS 1 request/response takes ~88 ms, without them well under 1 ms (docs/platform-notes.md). With `log`,
 * it reports connecting and losing the connection once per change, not once per attempt.
 */
export function createMqttClient(
  url: string,
  options: IClientOptions = {},
  log?: Logger,
): MqttClient {
  const client = mqtt.connect(url, { reconnectPeriod: 1_000, connectTimeout: 10_000, ...options });
  client.on('connect', function setNoDelay() {
    const stream = client.stream as { setNoDelay?: (noDelay: boolean) => void } | undefined;
    stream?.setNoDelay?.(true);
  });
  if (log) {
    const clientId = client.options.clientId;
    let troubled = false;
    client.on('connect', function logConnected() {
      troubled = false;
      log.info({ clientId }, 'mqtt connected');
    });
    client.on('offline', function logOffline() {
      if (troubled) return;
      troubled = true;
      log.warn({ clientId }, 'mqtt connection lost; reconnecting');
    });
    // Never the error object: a CONNACK refusal is about credentials, whose text stays out.
    client.on('error', function logError(error: Error & { code?: string | number }) {
      const entry = { clientId, err: { message: error.message, code: error.code } };
      if (troubled) log.debug(entry, 'mqtt connection error');
      else log.warn(entry, 'mqtt connection error');
      troubled = true;
    });
  }
  return client;
}

/**
 * Connects a Mercado MQTT client and waits for CONNACK (rejecting, and ending the client, when the
 * first attempt fails). See createMqttClient for a client that starts while the broker is down.
 */
export async function connectMqtt(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = createMqttClient(url, options);
  await new Promise<void>((resolve, reject) => {
    const settle = () => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    const onConnect = () => {
      settle();
      resolve();
    };
    const onError = (error: Error) => {
      settle();
      client.end(true);
      reject(error);
    };
    // A broker may close the connection without a CONNACK (e.g. a connection-rate refusal).
    const onClose = () => onError(new Error('connection closed before CONNACK'));
    client.once('connect', onConnect);
    client.once('error', onError);
    client.once('close', onClose);
  });
  return client;
}

/**
 * Publishes and waits for the broker's acknowledgement, at most `timeoutMs`: mqtt.js keeps a
 * publish queued forever while disconnected, which must never hang a caller.
 */
export async function publishWithin(
  client: MqttClient,
  topic: string,
  payload: string | Buffer,
  options: { qos: 0 | 1; retain?: boolean },
  timeoutMs = 5_000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.publishAsync(topic, payload, options),
      new Promise((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`publish to ${topic} not acknowledged in ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ends a client on shutdown: messages it sent at QoS 1 and still waits to have acknowledged get
 * `graceMs` for their PUBACK, then it disconnects. mqtt.js's own graceful end waits for them with
 * no bound, so a broker stopping at the same moment (every process of `npm start` gets the signal
 * at once) would hold the process until it is killed; past the grace the connection is dropped
 * instead, and what was not acknowledged is sent again from its outbox or redelivered to another
 * consumer.
 */
export async function endMqtt(client: MqttClient, graceMs = 2_000): Promise<void> {
  const outgoing = () =>
    Object.keys((client as unknown as { outgoing?: object }).outgoing ?? {}).length;
  if (client.connected && outgoing() > 0) {
    let timer: NodeJS.Timeout | undefined;
    let check: (() => void) | undefined;
    await new Promise<void>((resolve) => {
      // mqtt.js emits nothing when its outgoing store empties (unless it is ending itself).
      // 'packetreceive' comes before the packet is handled: look once it has been.
      check = () =>
        void setImmediate(() => {
          if (outgoing() === 0 || !client.connected) resolve();
        });
      client.on('packetreceive', check);
      client.on('close', check);
      timer = setTimeout(resolve, graceMs);
    });
    clearTimeout(timer);
    client.off('packetreceive', check!);
    client.off('close', check!);
  }
  await client.endAsync(!client.connected || outgoing() > 0);
}
