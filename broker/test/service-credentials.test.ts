import { createHmac, randomBytes } from 'node:crypto';
import t from 'tap';
import { ConfigError } from '@mercado/common/config';
import { captureLogs } from '@mercado/common/testing';
import {
  createServiceMqttClient,
  hashServiceMqttPassword,
  serviceMqttCredentials,
  servicePasswordHashesSetting,
} from '@mercado/common/mqtt';
import type { MqttServiceName } from '@mercado/common/contract';
import { loadBrokerConfig } from '../src/index.js';
import { eventually, internalSecret, refusedWith, startBroker } from './helpers.js';

/** A password as `npm start` and `compose:env` make one: random, long. */
const newPassword = () => randomBytes(24).toString('base64url');

const as = (service: MqttServiceName, password: string) => ({
  clientId: `${service}-${randomBytes(4).toString('hex')}`,
  ...serviceMqttCredentials(service, password),
});

t.test(
  'a service cannot log in as another, whatever it holds: INTERNAL_SECRET, its own password, the broker’s digest',
  async (t) => {
    const inventory = newPassword();
    const payments = newPassword();
    const broker = await startBroker(t, {
      [servicePasswordHashesSetting('inventory')]: hashServiceMqttPassword(inventory),
      [servicePasswordHashesSetting('payments')]: hashServiceMqttPassword(payments),
    });
    const url = broker.listeners.mqttUrl;
    t.equal(await refusedWith(url, as('inventory', inventory)), 'connected', 'itself: admitted');
    t.equal(await refusedWith(url, as('payments', payments)), 'connected', 'payments: admitted');

    // Everything inventory has in hand, tried as payments (which reads card requests).
    const attempts = {
      'its own password': inventory,
      INTERNAL_SECRET: internalSecret,
      // The derivation every service could compute before each had its own password.
      'HMAC(INTERNAL_SECRET, name)': createHmac('sha256', internalSecret)
        .update('mercado-mqtt-service:payments')
        .digest('base64url'),
      'the digest the broker keeps': hashServiceMqttPassword(payments),
    };
    for (const [what, password] of Object.entries(attempts)) {
      t.equal(await refusedWith(url, as('payments', password)), 4, `as payments with ${what}`);
    }
    t.equal(
      await refusedWith(url, as('products', inventory)),
      4,
      'a service the broker lists no digest for is not admitted at all',
    );
    t.notOk(
      broker.logs.text().includes(inventory) || broker.logs.text().includes(payments),
      'no password in the broker’s log',
    );
  },
);

t.test(
  'a rotation: the broker accepts the old and the new password, then only the new one',
  async (t) => {
    const old = newPassword();
    const next = newPassword();
    const setting = servicePasswordHashesSetting('orders');

    // Step 1: the broker lists both; replicas still on the old password stay connected.
    const during = await startBroker(t, {
      [setting]: `${hashServiceMqttPassword(old)}, ${hashServiceMqttPassword(next)}`,
    });
    t.equal(await refusedWith(during.listeners.mqttUrl, as('orders', old)), 'connected', 'old');
    // Step 2: the service moves to the new password.
    t.equal(await refusedWith(during.listeners.mqttUrl, as('orders', next)), 'connected', 'new');

    // Step 3: the broker lists only the new one.
    const after = await startBroker(t, { [setting]: hashServiceMqttPassword(next) });
    t.equal(await refusedWith(after.listeners.mqttUrl, as('orders', old)), 4, 'old: refused');
    t.equal(await refusedWith(after.listeners.mqttUrl, as('orders', next)), 'connected', 'new');
  },
);

t.test(
  'a service’s digest list must be SHA-256 digests; the error names the setting',
  async (t) => {
    const setting = servicePasswordHashesSetting('payments');
    const password = newPassword();
    const base = { INTERNAL_SECRET: internalSecret, JWKS_URL: 'http://127.0.0.1:1/jwks.json' };
    for (const value of [password, 'sha256:abc', `${hashServiceMqttPassword(password)},zz`]) {
      const error = (() => {
        try {
          loadBrokerConfig({ ...base, [setting]: value });
        } catch (caught) {
          return caught;
        }
      })();
      t.type(error, ConfigError);
      // The list entry is named: `…_PAYMENTS.1` for the second.
      t.match(
        (error as ConfigError).message,
        new RegExp(`${setting}\\.\\d must be SHA-256 digests`),
      );
      t.notOk((error as ConfigError).message.includes(password), 'the value is never echoed');
    }
    t.same(
      loadBrokerConfig({ ...base, [setting]: hashServiceMqttPassword(password).toUpperCase() })[
        setting
      ],
      [hashServiceMqttPassword(password)],
      'as sha256sum prints it, either case',
    );
  },
);

t.test(
  'a service’s client in one call: its own credentials, a client id per replica in its namespace, reconnecting with logs',
  async (t) => {
    const password = newPassword();
    const broker = await startBroker(t, {
      [servicePasswordHashesSetting('inventory')]: hashServiceMqttPassword(password),
    });
    const logs = captureLogs('inventory');
    const config = { MQTT_URL: broker.listeners.mqttUrl, MQTT_PASSWORD: password };
    const replicas = [1, 2].map(() =>
      createServiceMqttClient({ service: 'inventory', config, log: logs.log }),
    );
    for (const client of replicas) t.teardown(() => client?.endAsync(true));
    t.ok(await eventually(() => replicas.every((client) => client?.connected), 10_000), 'both up');
    const [a, b] = replicas.map((client) => client!.options);
    t.match(a, { username: 'service:inventory', clientId: /^inventory-[0-9a-f-]{36}$/ });
    t.not(a!.clientId, b!.clientId, 'two replicas never take each other’s place');
    t.equal(
      logs.lines.filter((line) => line.msg === 'mqtt connected').length,
      2,
      'each says it connected',
    );
    t.notOk(logs.text().includes(password), 'never its password');
    t.equal(
      createServiceMqttClient({ service: 'inventory', config: {}, log: logs.log }),
      undefined,
      'without MQTT_URL the service runs without MQTT',
    );
  },
);
