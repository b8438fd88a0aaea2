import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { mqttServices } from '@mercado/common/contract';
import { hashServiceMqttPassword } from '@mercado/common/mqtt';
import { loadOrCreateSecrets, type LocalSecrets } from '../src/local-secrets.js';
import { processes, type LaunchContext } from '../src/processes.js';

async function secretsIn(t: { teardown(fn: () => unknown): void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-processes-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return loadOrCreateSecrets(path.join(dir, 'data'));
}

/** Every entry's own settings, as the launcher builds them. */
function environments(secrets: LocalSecrets): Map<string, Record<string, string>> {
  const context: LaunchContext = {
    secrets,
    databaseUrl: 'postgres://mercado:pw@127.0.0.1:5432/db',
    urlOf: (name) => `http://127.0.0.1:1/${name}`,
    publicUrl: 'http://127.0.0.1:8080',
    mqttUrl: 'mqtt://127.0.0.1:1883',
  };
  return new Map(processes.map((entry) => [entry.name, entry.env(context)]));
}

t.test(
  'npm start gives every contract service a broker password of its own, and each process only its own',
  async (t) => {
    const { secrets } = await secretsIn(t);
    t.same(Object.keys(secrets.mqttPasswords).sort(), [...mqttServices].sort());
    const passwords = Object.values(secrets.mqttPasswords);
    t.equal(new Set(passwords).size, passwords.length, 'no two alike');
    t.ok(
      passwords.every((password) => password.length >= 32),
      'long enough for the services (MQTT_PASSWORD ≥ 32)',
    );

    const envs = environments(secrets);
    for (const entry of processes) {
      const env = envs.get(entry.name)!;
      const held = Object.entries(secrets.mqttPasswords).filter(([, password]) =>
        Object.values(env).some((value) => value.includes(password)),
      );
      if (entry.mqttService) {
        t.same(held, [[entry.mqttService, env.MQTT_PASSWORD]], `${entry.name}: its own only`);
      } else {
        t.same(held, [], `${entry.name}: none`);
      }
    }
    const broker = envs.get('broker')!;
    t.same(
      Object.fromEntries(
        Object.entries(broker).filter(([key]) => key.startsWith('MQTT_PASSWORD_HASHES_')),
      ),
      {
        MQTT_PASSWORD_HASHES_USERS: hashServiceMqttPassword(secrets.mqttPasswords.users),
        MQTT_PASSWORD_HASHES_INVENTORY: hashServiceMqttPassword(secrets.mqttPasswords.inventory),
        MQTT_PASSWORD_HASHES_GATEWAY: hashServiceMqttPassword(secrets.mqttPasswords.gateway),
        MQTT_PASSWORD_HASHES_ORDERS: hashServiceMqttPassword(secrets.mqttPasswords.orders),
        MQTT_PASSWORD_HASHES_PAYMENTS: hashServiceMqttPassword(secrets.mqttPasswords.payments),
      },
      'the broker admits the services that run, by digest, and no other',
    );
  },
);

t.test('card keys reach payments and no other process', async (t) => {
  const { secrets } = await secretsIn(t);
  t.match(secrets.paymentsCardKeys, [{ kty: 'OKP', crv: 'X25519', d: String, kid: String }]);
  t.ok(secrets.cardFingerprintKey.length >= 32);
  const envs = environments(secrets);
  for (const entry of processes) {
    const env = Object.values(envs.get(entry.name)!).join('\n');
    const holds =
      env.includes(secrets.paymentsCardKeys[0]!.d) || env.includes(secrets.cardFingerprintKey);
    t.equal(
      holds,
      entry.name === 'payments',
      `${entry.name}: ${entry.name === 'payments' ? 'holds them' : 'none'}`,
    );
  }
  t.notOk('INTERNAL_SECRET' in envs.get('payments')!, 'payments serves no HTTP route to trust');
});

t.test(
  'an existing installation gets the broker passwords it lacks on its next start, keeping the rest',
  async (t) => {
    const first = await secretsIn(t);
    const { mqttPasswords, ...older } = first.secrets;
    await writeFile(first.file, JSON.stringify(older));
    const upgraded = await loadOrCreateSecrets(path.dirname(first.file));
    t.same(upgraded.generated, ['mqttPasswords']);
    t.equal(upgraded.secrets.internalSecret, first.secrets.internalSecret);
    t.not(upgraded.secrets.mqttPasswords.users, mqttPasswords.users, 'fresh ones');

    // A contract service added later (its key missing): only it gets a new one.
    const partial = { ...upgraded.secrets.mqttPasswords } as Partial<typeof mqttPasswords>;
    delete partial.payments;
    await writeFile(first.file, JSON.stringify({ ...upgraded.secrets, mqttPasswords: partial }));
    const again = await loadOrCreateSecrets(path.dirname(first.file));
    t.same(again.generated, ['mqttPasswords']);
    t.same(
      { ...again.secrets.mqttPasswords, payments: undefined },
      { ...upgraded.secrets.mqttPasswords, payments: undefined },
      'the others kept',
    );
    t.ok(again.secrets.mqttPasswords.payments.length >= 32);
  },
);
