import t from 'tap';
import { testServiceMqttCredentials } from '@mercado/common/testing';
import { loadBrokerConfig } from '../src/index.js';
import { parseProxyHeader } from '../src/proxy-protocol.js';
import type { encode } from './helpers.js';
import { ManualClock, RawMqtt, refusedWith, startBroker } from './helpers.js';

/**
 * MQTT_PROXY_PORT (src/guards/proxy-header.ts, src/proxy-protocol.ts): behind a load balancer the
 * broker holds each client to the address its PROXY header names — the connection rate and the
 * log lines — and takes the header from MQTT_PROXY_TRUSTED alone; the WebSocket upgrade's
 * X-Forwarded-For likewise. Raw sockets write the headers (v1 as nginx sends it, v2 as other
 * balancers do); loopback addresses other than 127.0.0.1 stand for other peers (Linux routes all
 * of 127.0.0.0/8 to lo). One broker serves every subtest, on a clock that stands still, so the
 * per-address burst (a quarter of 40 a minute: 10) is exact however slow the machine.
 */

const clock = new ManualClock();
const system = await startBroker(
  t,
  {
    MQTT_PROXY_PORT: '0',
    MQTT_PROXY_TRUSTED: '127.0.0.1',
    CONNECTIONS_PER_IP_PER_MINUTE: '40',
    CONNECT_TIMEOUT_MS: '1000',
  },
  { clock },
);
const { listeners, logs, metric } = system;
const proxyPort = Number(new URL(listeners.mqttProxyUrl!).port);
const orders = testServiceMqttCredentials('orders');
let clientIds = 0;
const asOrders = () => ({ clientId: `orders-proxied-${clientIds++}`, ...orders });
const wait = 20_000;

const v1 = (source: string, family = 'TCP4', destination = '127.0.0.1') =>
  Buffer.from(`PROXY ${family} ${source} ${destination} 40001 ${proxyPort}\r\n`);

function v2(command: 'proxy' | 'local', source?: { ipv4: number[] } | { ipv6: number[] }) {
  const addresses = !source
    ? Buffer.alloc(0)
    : 'ipv4' in source
      ? Buffer.from([...source.ipv4, 127, 0, 0, 1, 0x9c, 0x41, 0x07, 0x5b])
      : Buffer.from([...source.ipv6, ...Array(15).fill(0), 1, 0x9c, 0x41, 0x07, 0x5b]);
  // Ports 40001 → 1883 in both; an IPv6 source is 16 bytes, its destination ::1.
  const family = !source ? 0x00 : 'ipv4' in source ? 0x11 : 0x21;
  const length = Buffer.alloc(2);
  length.writeUInt16BE(addresses.length);
  return Buffer.concat([
    Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]),
    Buffer.from([command === 'proxy' ? 0x21 : 0x20, family]),
    length,
    addresses,
  ]);
}

/** Opens a connection to `port`, writes `header` and a CONNECT: the CONNACK code or 'closed'. */
async function connectWith(
  header: Buffer,
  connect: Parameters<typeof encode.connect>[0],
  { port = proxyPort, localAddress }: { port?: number; localAddress?: string } = {},
) {
  const raw = await RawMqtt.open(port, localAddress ? { localAddress } : {});
  t.teardown(() => raw.destroy());
  raw.send(header);
  return raw.connect(connect, wait);
}

const logged = (message: string) => logs.lines.filter((line) => line.msg === message);

t.test('a client behind a trusted PROXY header is limited by its own address', async (t) => {
  const outcomes = [];
  for (let i = 0; i < 11; i++) outcomes.push(await connectWith(v1('198.51.100.1'), asOrders()));
  t.same(outcomes, [...Array(10).fill(0), 'closed'], 'its burst of 10, then refused');
  t.match(
    logged('mqtt connection rate exceeded'),
    [{ address: '198.51.100.1' }],
    'the refusal logged with the address the header named',
  );
  t.equal(
    await connectWith(v1('198.51.100.2'), asOrders()),
    0,
    'another client through the same balancer still connects: the limit is not the balancer’s',
  );
  t.equal(await metric('mqtt_denied_total', { action: 'connect', kind: 'rate' }), 1);
});

t.test('its log lines carry its own address, from a v1 or a v2 header', async (t) => {
  const badPassword = (clientId: string) => ({ clientId, ...orders, password: 'wrong' });
  t.equal(await connectWith(v1('198.51.100.4'), badPassword('orders-v1')), 4);
  t.equal(await connectWith(v1('2001:db8::4', 'TCP6', '2001:db8::1'), badPassword('orders-v6')), 4);
  t.equal(await connectWith(v2('proxy', { ipv4: [203, 0, 113, 7] }), badPassword('orders-v2')), 4);
  t.equal(
    await connectWith(
      v2('proxy', { ipv6: [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1] }),
      badPassword('orders-v2-6'),
    ),
    4,
  );
  // LOCAL: the balancer speaking for itself (a health check); its own address stands.
  t.equal(await connectWith(v2('local'), badPassword('orders-local')), 4);
  const refused = Object.fromEntries(
    logged('mqtt connect refused').map((line) => [line.clientId, line.address]),
  );
  t.same(refused, {
    'orders-v1': '198.51.100.4',
    'orders-v6': '2001:db8::4',
    'orders-v2': '203.0.113.7',
    'orders-v2-6': '2001:db8::1',
    'orders-local': '127.0.0.1',
  });
});

t.test('a PROXY header from a peer outside MQTT_PROXY_TRUSTED is refused, unread', async (t) => {
  const before = await metric('mqtt_connected_clients');
  t.equal(
    await connectWith(v1('198.51.100.5'), asOrders(), { localAddress: '127.0.0.9' }),
    'closed',
  );
  t.equal(await metric('mqtt_denied_total', { action: 'proxy', kind: 'untrusted' }), 1);
  t.match(logged('mqtt PROXY connection from an untrusted peer; closed'), [{ peer: '127.0.0.9' }]);
  t.equal(await metric('mqtt_connected_clients'), before, 'no client came of it');
});

t.test('a malformed, oversized or missing header is refused and changes nothing', async (t) => {
  const before = await metric('mqtt_connected_clients');
  const cases: Array<[string, Buffer]> = [
    ['an address that is none', Buffer.from(`PROXY TCP4 999.0.0.1 127.0.0.1 1 ${proxyPort}\r\n`)],
    ['an IPv6 address said to be TCP4', v1('2001:db8::5')],
    ['a port with a leading zero', Buffer.from(`PROXY TCP4 1.2.3.4 127.0.0.1 01 2\r\n`)],
    ['a double space', Buffer.from(`PROXY TCP4  1.2.3.4 127.0.0.1 1 2\r\n`)],
    ['a v1 line over 107 bytes', Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}\r\n`)],
    [
      'a v2 header over 536 bytes',
      Buffer.concat([v2('local').subarray(0, 14), Buffer.from([4, 0])]),
    ],
    [
      'v2 over UDP',
      Buffer.from(v2('proxy', { ipv4: [1, 2, 3, 4] }).map((b, i) => (i === 13 ? 0x12 : b))),
    ],
    ['no header: a CONNECT first', Buffer.alloc(0)],
  ];
  for (const [label, header] of cases) {
    t.equal(await connectWith(header, asOrders()), 'closed', label);
  }
  t.equal(
    await metric('mqtt_denied_total', { action: 'proxy', kind: 'header' }),
    cases.length,
    'each counted',
  );
  t.equal(await metric('mqtt_connected_clients'), before, 'none of them became a client');
  t.equal(
    await metric('mqtt_denied_total', { action: 'connect', kind: 'rate' }),
    1,
    'nor reached the connection rate (the one refusal is the first subtest’s)',
  );
  t.not(
    await refusedWith(listeners.mqttProxyUrl!, asOrders()),
    'connected',
    'mqtt.js, which sends no header, is refused too',
  );

  // A header begun and never finished, and a connection that sends nothing: closed at
  // CONNECT_TIMEOUT_MS (1 s here), whatever they send later.
  for (const start of [Buffer.from('PROXY TCP4 1.2'), Buffer.alloc(0)]) {
    const raw = await RawMqtt.open(proxyPort);
    t.teardown(() => raw.destroy());
    raw.send(start);
    await raw.closed;
    t.ok(raw.isClosed, `${start.length ? 'a partial header' : 'silence'}: closed`);
  }
  t.equal(await connectWith(v1('198.51.100.6'), asOrders()), 0, 'a good header still connects');
});

t.test(
  'MQTT_PORT is plain MQTT: direct clients connect, a PROXY header there is garbage',
  async (t) => {
    const port = Number(new URL(listeners.mqttUrl).port);
    t.equal(await connectWith(Buffer.alloc(0), asOrders(), { port }), 0, 'a direct client');
    t.equal(await connectWith(v1('198.51.100.7'), asOrders(), { port }), 'closed');
    t.equal(await refusedWith(listeners.mqttUrl, asOrders()), 'connected', 'mqtt.js directly');
  },
);

t.test('the WebSocket takes X-Forwarded-For from a trusted hop only', async (t) => {
  const forgedToken = (userId: string) => ({
    clientId: `web-${userId}-1`,
    username: 'browser',
    password: 'not-a-token',
  });
  const headers = { 'x-forwarded-for': '6.6.6.6, 198.51.100.9' };
  t.equal(
    await refusedWith(listeners.wsUrl, { ...forgedToken('u-trusted'), wsOptions: { headers } }),
    4,
  );
  t.equal(
    await refusedWith(listeners.wsUrl, {
      ...forgedToken('u-untrusted'),
      wsOptions: { headers, localAddress: '127.0.0.9' } as Record<string, unknown>,
    }),
    4,
  );
  const refused = Object.fromEntries(
    logged('mqtt connect refused').map((line) => [line.clientId, line.address]),
  );
  t.equal(
    refused['web-u-trusted-1'],
    '198.51.100.9',
    'behind the trusted proxy: the hop it added, not what the client wrote before it',
  );
  t.equal(refused['web-u-untrusted-1'], '127.0.0.9', 'from anyone else: the peer itself');
});

t.test('the settings: MQTT_PROXY_TRUSTED is required with the port, and checked', async (t) => {
  const base = {
    INTERNAL_SECRET: 'x'.repeat(32),
    JWKS_URL: 'http://127.0.0.1:1/jwks.json',
    MQTT_PROXY_PORT: '1884',
  };
  t.throws(() => loadBrokerConfig(base), /MQTT_PROXY_TRUSTED is required when MQTT_PROXY_PORT/);
  t.throws(
    () => loadBrokerConfig({ ...base, MQTT_PROXY_TRUSTED: '10.0.0.0/33' }),
    /MQTT_PROXY_TRUSTED/,
  );
  t.throws(() => loadBrokerConfig({ ...base, MQTT_PROXY_TRUSTED: 'nginx' }), /MQTT_PROXY_TRUSTED/);
  t.same(
    loadBrokerConfig({ ...base, MQTT_PROXY_TRUSTED: '127.0.0.1, 10.0.0.0/8,fd00::/8' })
      .MQTT_PROXY_TRUSTED,
    ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'],
  );
});

t.test('the parser: whole headers only, the bytes after them left alone', async (t) => {
  t.same(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nMQTT')), {
    kind: 'header',
    length: 32,
    source: { address: '1.2.3.4', port: 1 },
  });
  t.same(parseProxyHeader(Buffer.from('PROXY UNKNOWN ffff::1 ::1 1 2\r\n')), {
    kind: 'header',
    length: 31,
  });
  for (const partial of ['PRO', 'PROXY TCP4 1.2.3.4', '\r\n\r\n\0']) {
    t.same(parseProxyHeader(Buffer.from(partial)), { kind: 'incomplete' }, partial);
  }
  t.same(parseProxyHeader(v2('proxy', { ipv4: [1, 2, 3, 4] }).subarray(0, 20)), {
    kind: 'incomplete',
  });
  t.match(parseProxyHeader(Buffer.from([0x10, 0x20])), { kind: 'invalid' }, 'a CONNECT');
  t.match(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n')), {
    kind: 'invalid',
  });
});
