import { randomUUID } from 'node:crypto';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { Logger } from '../log/logger.js';
import type { MqttServiceName } from '../contract/contract.js';
import { createMqttClient } from './client.js';
import { serviceMqttCredentials } from './credentials.js';

/** The settings a service's MQTT client is made from (config's mqttSettings). */
export interface ServiceMqttConfig {
  MQTT_URL?: string | undefined;
  MQTT_PASSWORD?: string | undefined;
}

export interface ServiceMqttClientOptions {
  /** Who connects, as the contract and the broker know it. */
  service: MqttServiceName;
  config: ServiceMqttConfig;
  log: Logger;
  /** More mqtt.js options (a will, `clean: false`, a faster `reconnectPeriod` in tests…). */
  options?: IClientOptions;
}

/**
 * A service's MQTT client, in one call: the broker from MQTT_URL, logged in as `service:{name}`
 * with the service's own MQTT_PASSWORD, with a client id unique per replica inside the service's
 * namespace (the broker requires `{name}-`; a second connection with the same id would take the
 * first one's place). It connects in the background and keeps reconnecting, also after a refused
 * CONNACK (a broker restarting with a rotated password), logging each change once; TCP sockets get
 * TCP_NODELAY. Undefined without MQTT_URL: the service runs without MQTT.
 *
 * runDatabaseService makes one for its service (`runtime.mqtt`) and ends it on shutdown.
 */
export function createServiceMqttClient({
  service,
  config,
  log,
  options = {},
}: ServiceMqttClientOptions): MqttClient | undefined {
  if (!config.MQTT_URL) return undefined;
  // loadConfig refuses MQTT_URL without MQTT_PASSWORD (mqttSettings): this is a wiring mistake.
  if (!config.MQTT_PASSWORD) throw new Error('MQTT_URL is set without MQTT_PASSWORD');
  return createMqttClient(
    config.MQTT_URL,
    {
      clientId: `${service}-${randomUUID()}`,
      ...serviceMqttCredentials(service, config.MQTT_PASSWORD),
      reconnectOnConnackError: true,
      ...options,
    },
    log,
  );
}
