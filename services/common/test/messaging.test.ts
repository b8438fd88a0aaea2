import t from 'tap';
import { ConfigError, loadConfig, mqttSettings, setting } from '@mercado/common/config';
import { maySubscribe, topics, type TopicKey } from '@mercado/common/contract';
import {
  filterMatches,
  sharedTopicFilter,
  topicFilter,
  type FilterParams,
} from '@mercado/common/mqtt';

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

t.test('topic filters are built from the contract’s patterns', async (t) => {
  t.equal(topicFilter('terminalStatus'), 'terminals/+/status');
  t.equal(topicFilter('orderStatus'), 'orders/+/+/status');
  t.equal(topicFilter('orderStatus', { userId: 'u-1' }), 'orders/u-1/+/status');
  t.equal(topicFilter('paymentResults', { orderId: 'o-1' }), 'payments/results/o-1');
  t.equal(topicFilter('lowStock'), 'inventory/low-stock');
  t.equal(sharedTopicFilter('payments', 'paymentRequests'), '$share/payments/payments/requests');
  t.equal(
    sharedTopicFilter('payments', 'terminalRequests'),
    '$share/payments/terminals/+/requests',
  );
  for (const value of ['a/b', '+', '#', '', 'x\0y']) {
    t.throws(
      () => topicFilter('orderStatus', { userId: value }),
      {
        name: 'TypeError',
        message: 'topic filter orderStatus: parameter userId must be one topic level',
      },
      `userId ${JSON.stringify(value)} would widen the filter`,
    );
  }
  for (const group of ['', 'a/b', 'a+b', 'g'.repeat(65)]) {
    t.throws(() => sharedTopicFilter(group, 'paymentRequests'), TypeError, `group ${group}`);
  }
});

t.test(
  'every filter built for a topic’s subscribers is one the contract lets them subscribe to',
  async (t) => {
    for (const key of Object.keys(topics) as TopicKey[]) {
      for (const rule of topics[key].subscribe) {
        if (rule.kind === 'service') {
          for (const service of rule.services) {
            const principal = { kind: 'service', service } as const;
            t.ok(maySubscribe(principal, topicFilter(key)), `${service}: ${topicFilter(key)}`);
            t.ok(maySubscribe(principal, sharedTopicFilter('g', key)), `${service}: shared`);
          }
        } else if (rule.kind === 'terminals') {
          const principal = { kind: 'terminal', terminalId: 'id-1' } as const;
          t.ok(maySubscribe(principal, topicFilter(key)), `every terminal: ${topicFilter(key)}`);
        } else if (rule.kind === 'browserRole') {
          const principal = { kind: 'browser', userId: 'id-1', roles: [rule.role] } as const;
          t.ok(maySubscribe(principal, topicFilter(key)), `${rule.role}s: ${topicFilter(key)}`);
        } else {
          const id = 'id-1';
          const filter = topicFilter(key, { [rule.idParam]: id } as FilterParams<typeof key>);
          const principal =
            rule.kind === 'terminal'
              ? ({ kind: 'terminal', terminalId: id } as const)
              : ({ kind: 'browser', userId: id } as const);
          t.ok(maySubscribe(principal, filter), `${rule.kind} ${id}: ${filter}`);
          t.notOk(maySubscribe(principal, topicFilter(key)), `${rule.kind}: not every one's`);
        }
      }
    }
  },
);

t.test('filterMatches follows MQTT’s matching, and a shared filter its inner one', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['terminals/+/status', 'terminals/t-1/status', true],
    ['terminals/+/status', 'terminals/t-1/requests', false],
    ['terminals/+/status', 'terminals/t-1/status/x', false],
    ['orders/#', 'orders', true],
    ['orders/#', 'orders/u/o/status', true],
    ['orders/+', 'orders', false],
    ['#', '$SYS/x', false],
    ['+/x', '$share/x', false],
    ['$share/g/payments/requests', 'payments/requests', true],
    ['$share/g/payments/+', 'payments/results', true],
    ['$share//payments/requests', 'payments/requests', false],
    ['payments/requests', 'payments/requests', true],
    ['payments/requests', 'payments/request', false],
  ];
  for (const [filter, topic, matches] of cases) {
    t.equal(filterMatches(filter, topic), matches, `${filter} ${matches ? '∋' : '∌'} ${topic}`);
  }
});
