import t from 'tap';
import { ConfigError, loadConfig, mqttSettings, setting } from '@mercado/common/config';

t.test(
  'MQTT_PASSWORD is required once MQTT_URL is set, named with the other problems',
  async (t) => {
    const shape = { ...mqttSettings, API_SECRET: setting.secret(32) };
    t.same(loadConfig(shape, { API_SECRET: 's'.repeat(32) }), { API_SECRET: 's'.repeat(32) });
    const error = (() => {
      try {
        loadConfig(shape, { MQTT_URL: 'mqtt://broker:1883' });
      } catch (caught) {
        return caught;
      }
    })();
    t.type(error, ConfigError);
    t.equal(
      (error as ConfigError).message,
      'invalid configuration: API_SECRET is required; MQTT_PASSWORD is required when MQTT_URL is set',
    );
    t.throws(
      () => loadConfig(shape, { API_SECRET: 's'.repeat(32), MQTT_PASSWORD: 'short' }),
      /MQTT_PASSWORD must be at least 32 characters/,
      'a password is a secret: long, never echoed',
    );
    t.same(
      loadConfig(shape, {
        API_SECRET: 's'.repeat(32),
        MQTT_URL: 'mqtt://broker:1883',
        MQTT_PASSWORD: 'p'.repeat(32),
      }),
      { API_SECRET: 's'.repeat(32), MQTT_URL: 'mqtt://broker:1883', MQTT_PASSWORD: 'p'.repeat(32) },
    );
  },
);
