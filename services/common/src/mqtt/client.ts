import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export type { MqttClient } from 'mqtt';

/**
 * Connects a Mercado MQTT client and waits for CONNACK. TCP sockets get TCP_NODELAY: with Nagle and
 * delayed ACKs a QoS 1 request/response takes ~88 ms, without them well under 1 ms (TOOLCHAIN.md).
 */
export async function connectMqtt(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 1_000, connectTimeout: 10_000, ...options });
  client.on('connect', function setNoDelay() {
    const stream = client.stream as { setNoDelay?: (noDelay: boolean) => void } | undefined;
    stream?.setNoDelay?.(true);
  });
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
