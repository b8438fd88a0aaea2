import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Aedes, type AedesOptions } from 'aedes';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import t from 'tap';
import { parseSharedFilter } from '@mercado/common/contract';
import { RawMqtt } from '@mercado/common/testing';
import {
  installSharedSubscriptions,
  type SharedSubscriptions,
} from '../src/shared-subscriptions.js';

/**
 * Shared subscriptions on a real aedes broker with real MQTT clients over TCP (Nagle off on both
 * sides, docs/platform-notes.md). No timing assertions: every wait is on a count, with a generous deadline.
 */

const SHARE = '$share/payments/payments/requests';
const TOPIC = 'payments/requests';

type Teardown = { teardown(fn: () => unknown): void };

interface Member {
  readonly client: MqttClient;
  /** Payloads (message ids) in arrival order. */
  readonly ids: string[];
  readonly topics: Set<string>;
}

interface TestBroker {
  readonly broker: Aedes;
  readonly shared: SharedSubscriptions;
  readonly port: number;
  readonly warnings: string[];
  /** Connects with a message collector attached before CONNACK, so nothing is missed. */
  connect(options?: IClientOptions): Promise<Member>;
}

async function startBroker(
  t: Teardown,
  options: AedesOptions = {},
  maxPendingPerGroup?: number,
): Promise<TestBroker> {
  const broker = await Aedes.createBroker(options);
  const warnings: string[] = [];
  const shared = installSharedSubscriptions(broker, {
    log: { warn: (_obj, msg) => warnings.push(msg) },
    maxPendingPerGroup,
  });
  const server = net.createServer({ noDelay: true }, broker.handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const clients: MqttClient[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true)));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const connect = async (clientOptions: IClientOptions = {}): Promise<Member> => {
    const client = mqtt.connect({
      host: '127.0.0.1',
      port,
      protocolVersion: 4,
      reconnectPeriod: 0,
      ...clientOptions,
    });
    clients.push(client);
    client.on('connect', function setNoDelay() {
      (client.stream as net.Socket).setNoDelay(true);
    });
    const member: Member = { client, ids: [], topics: new Set() };
    client.on('message', function collect(topic, payload) {
      member.ids.push(payload.toString());
      member.topics.add(topic);
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    return member;
  };
  return { broker, shared, port, warnings, connect };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function messageIds(prefix: string, count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${from + i}`);
}

/** QoS 1, 100 at a time (the broker's PUBACK comes before it routes the message). */
async function publishAll(client: MqttClient, topic: string, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 100) {
    await Promise.all(
      ids.slice(i, i + 100).map((id) => client.publishAsync(topic, id, { qos: 1 })),
    );
  }
}

function total(members: Member[]): number {
  return members.reduce((sum, member) => sum + member.ids.length, 0);
}

function sorted(ids: Iterable<string>): string[] {
  return [...ids].sort();
}

async function subscribeShare(members: Member[], filter = SHARE): Promise<void> {
  for (const member of members) await member.client.subscribeAsync(filter, { qos: 1 });
}

t.test(
  'each message reaches exactly one member of the group and every plain subscriber',
  async (t) => {
    const { connect, shared } = await startBroker(t);
    const members = [await connect(), await connect(), await connect()];
    await subscribeShare(members);
    const plain = await connect();
    await plain.client.subscribeAsync(TOPIC, { qos: 1 });
    const publisher = await connect();
    t.equal(shared.groups(), 1);
    t.equal(shared.members(), 3);

    const ids = messageIds('request', 3_000);
    const started = performance.now();
    await publishAll(publisher.client, TOPIC, ids);
    await waitFor(
      'every message at the members and at the plain subscriber',
      () => total(members) >= ids.length && plain.ids.length >= ids.length,
    );
    const elapsed = performance.now() - started;
    await waitFor('every PUBACK', () => shared.inflight() === 0);
    t.comment(`3,000 QoS 1 messages to 3 members + 1 plain subscriber: ${elapsed.toFixed(0)} ms`);

    const delivered = members.flatMap((member) => member.ids);
    t.equal(delivered.length, ids.length, 'no message reached two members');
    t.same(sorted(delivered), sorted(ids), 'the members together got every message');
    for (const [i, member] of members.entries()) {
      t.ok(
        member.ids.length >= 800 && member.ids.length <= 1_200,
        `member ${i} got about a third (${member.ids.length})`,
      );
      t.same([...member.topics], [TOPIC], 'messages keep their topic');
    }
    t.same(sorted(plain.ids), sorted(ids), 'the plain subscriber got every message');
    t.equal(plain.ids.length, ids.length);
    t.equal(shared.pending(), 0);
  },
);

t.test('two groups on the same filter each get every message once', async (t) => {
  const { connect } = await startBroker(t);
  const payments = [await connect(), await connect()];
  const audit = [await connect(), await connect()];
  await subscribeShare(payments, `$share/payments/${TOPIC}`);
  await subscribeShare(audit, `$share/audit/${TOPIC}`);
  const publisher = await connect();

  const ids = messageIds('twice', 500);
  await publishAll(publisher.client, TOPIC, ids);
  await waitFor('both groups', () => total(payments) >= 500 && total(audit) >= 500);

  for (const [name, group] of [
    ['payments', payments],
    ['audit', audit],
  ] as const) {
    const delivered = group.flatMap((member) => member.ids);
    t.equal(delivered.length, 500, `${name}: each message once`);
    t.same(sorted(delivered), sorted(ids), `${name}: every message`);
    t.ok(
      group.every((member) => member.ids.length > 0),
      `${name}: both members took part`,
    );
  }
});

t.test('a member killed with unacknowledged messages loses none of them', async (t) => {
  const { connect, shared } = await startBroker(t);
  const survivors = [await connect(), await connect()];
  const slow = await connect();
  // Never acknowledges: mqtt.js sends PUBACK only when handleMessage calls back (and reads no
  // further packet meanwhile), so everything the broker hands this member stays in flight.
  slow.client.handleMessage = function neverAcknowledge() {};
  slow.client.on('error', () => {});
  await subscribeShare([...survivors, slow]);
  const observer = await connect();
  await observer.client.subscribeAsync(TOPIC, { qos: 1 });
  const publisher = await connect();

  const firstHalf = messageIds('kill', 1_500);
  await publishAll(publisher.client, TOPIC, firstHalf);
  // The observer's copy is written after the group routed the same message, so once the observer
  // has all of them, so has the group; then wait for the survivors' PUBACKs.
  await waitFor('the first half routed', () => observer.ids.length >= 1_500);
  await waitFor(
    'the survivors to acknowledge theirs',
    () => total(survivors) + shared.inflight() === 1_500,
  );
  const inflightAtKill = shared.inflight();
  t.ok(inflightAtKill > 0, `messages in flight at the slow member: ${inflightAtKill}`);
  t.ok(slow.ids.length >= 1, 'the slow member saw at least one message before it died');

  slow.client.stream.destroy();
  await waitFor('the slow member to leave the group', () => shared.members() === 2);

  const secondHalf = messageIds('kill', 1_500, 1_500);
  await publishAll(publisher.client, TOPIC, secondHalf);
  await waitFor('every message at a survivor', () => total(survivors) >= 3_000);
  await waitFor('every PUBACK', () => shared.inflight() === 0);

  const delivered = survivors.flatMap((member) => member.ids);
  const all = [...firstHalf, ...secondHalf];
  t.equal(delivered.length, all.length, 'each message reached one survivor only');
  t.same(sorted(delivered), sorted(all), 'nothing lost');
  const seenTwice = slow.ids.filter((id) => delivered.includes(id));
  t.same(sorted(seenTwice), sorted(slow.ids), 'what the slow member saw was redelivered');
  t.ok(
    seenTwice.length <= shared.redelivered(),
    `duplicates (${seenTwice.length}) ≤ redelivered (${shared.redelivered()})`,
  );
  t.ok(
    shared.redelivered() <= inflightAtKill,
    `redelivered (${shared.redelivered()}) ≤ in flight at the kill (${inflightAtKill})`,
  );
  t.equal(shared.pending(), 0);
});

t.test('a persistent member that dies is not sent its reassigned messages again', async (t) => {
  const { connect, shared } = await startBroker(t);
  const survivor = await connect();
  const session = { clientId: 'payments-replica-slow', clean: false };
  const slow = await connect(session);
  slow.client.handleMessage = function neverAcknowledge() {};
  slow.client.on('error', () => {});
  await subscribeShare([survivor, slow]);
  const publisher = await connect();

  const ids = messageIds('persistent', 30);
  await publishAll(publisher.client, TOPIC, ids);
  await waitFor('half at each', () => survivor.ids.length === 15 && shared.inflight() === 15);
  slow.client.stream.destroy();
  await waitFor('the slow member’s half at the survivor', () => survivor.ids.length >= 30);
  t.same(sorted(survivor.ids), sorted(ids), 'nothing lost');
  t.equal(shared.redelivered(), 15);
  t.equal(shared.members(), 2, 'the offline persistent session is still a member');

  const resumed = await connect(session);
  // aedes handles a client's packets only once it is ready: a SUBACK means the share is live again
  await resumed.client.subscribeAsync('probe/nothing', { qos: 0 });
  t.equal(shared.inflight(), 0, 'nothing stale sent to the resumed session');
  const later = messageIds('later', 10);
  await publishAll(publisher.client, TOPIC, later);
  await waitFor('the later messages', () => survivor.ids.length + resumed.ids.length >= 40);
  t.same(
    sorted([...survivor.ids, ...resumed.ids]),
    sorted([...ids, ...later]),
    'each message once: the resumed session got no stale copy',
  );
  t.ok(resumed.ids.length > 0, 'the resumed member takes its turn again');
});

t.test('a member whose forward hook refuses late is passed over, not lost', async (t) => {
  const offered = new Set<string>();
  const { connect, shared, warnings } = await startBroker(t, {
    authorizeForward(client, packet) {
      if (!client.id.startsWith('fickle')) return packet;
      // a hook whose answer changes between the choice of member and the delivery itself
      const key = `${client.id} ${packet.payload.toString()}`;
      if (offered.has(key)) return null;
      offered.add(key);
      return packet;
    },
  });
  const fickle = await connect({ clientId: 'fickle-1' });
  const steady = await connect({ clientId: 'steady-1' });
  await subscribeShare([fickle, steady]);
  const publisher = await connect();

  const ids = messageIds('late', 20);
  await publishAll(publisher.client, TOPIC, ids);
  await waitFor('every message at the steady member', () => steady.ids.length >= 20);
  t.same(sorted(steady.ids), sorted(ids));
  t.equal(fickle.ids.length, 0);
  t.equal(shared.dropped(), 0);

  await steady.client.unsubscribeAsync(SHARE);
  await publishAll(publisher.client, TOPIC, messageIds('refused', 3));
  await waitFor('the drops', () => shared.dropped() === 3);
  t.match(warnings, [/no member accepted it/], 'refused by every member: dropped, with a warning');
  t.equal(fickle.ids.length, 0);
});

t.test('a filter starting with a wildcard does not match $ topics', async (t) => {
  const { connect } = await startBroker(t);
  const members = [await connect(), await connect()];
  // every SUBSCRIBE and CONNECT makes aedes publish under $SYS/
  await subscribeShare(members, '$share/everything/#');
  const publisher = await connect();
  const ids = messageIds('plain', 10);
  await publishAll(publisher.client, 'a/b', ids);
  await waitFor('the messages', () => total(members) >= 10);
  const delivered = members.flatMap((member) => member.ids);
  t.same(sorted(delivered), sorted(ids), 'no $SYS message');
  t.same(
    members.flatMap((member) => [...member.topics]),
    ['a/b', 'a/b'],
  );
});

t.test('a member that unsubscribes gets nothing more, the others carry on', async (t) => {
  const { connect, shared } = await startBroker(t);
  const members = [await connect(), await connect(), await connect()];
  await subscribeShare(members);
  const publisher = await connect();

  await publishAll(publisher.client, TOPIC, messageIds('before', 300));
  await waitFor('the first 300', () => total(members) >= 300);
  await waitFor('every PUBACK', () => shared.inflight() === 0);
  const [leaving, ...staying] = members as [Member, Member, Member];
  const leftWith = leaving.ids.length;
  t.ok(leftWith > 0);

  await leaving.client.unsubscribeAsync(SHARE);
  t.equal(shared.members(), 2, 'membership removed on UNSUBSCRIBE');

  const after = messageIds('after', 300);
  await publishAll(publisher.client, TOPIC, after);
  await waitFor('the next 300 at the others', () => total(staying) >= 600 - leftWith);
  t.equal(leaving.ids.length, leftWith, 'the unsubscribed client got nothing more');
  const delivered = staying.flatMap((member) => member.ids).filter((id) => id.startsWith('after'));
  t.same(sorted(delivered), sorted(after), 'the others got every later message once');

  for (const member of staying) await member.client.unsubscribeAsync(SHARE);
  t.equal(shared.groups(), 0, 'the group goes with its last member');
});

/**
 * SUBACK return codes for one filter, sent as raw bytes (mqtt.js refuses to send some of these
 * filters), or 'closed' when the broker drops the connection.
 */
async function rawSubscribe(port: number, filter: string): Promise<number[] | 'closed'> {
  const raw = await RawMqtt.open(port);
  try {
    // Whatever the CONNACK says, SUBSCRIBE follows it.
    const connack = await raw.connect({ clientId: 'raw-subscriber' }, 30_000);
    if (connack === 'timeout') throw new Error(`no answer to CONNECT before SUBSCRIBE ${filter}`);
    if (connack === 'closed') return 'closed';
    const suback = await raw.subscribe([filter], 1, 30_000);
    if (suback === 'timeout') throw new Error(`no answer to SUBSCRIBE ${filter}`);
    return suback;
  } finally {
    raw.destroy();
  }
}

t.test('invalid shared filters are refused', async (t) => {
  const { port, connect, shared } = await startBroker(t);
  const member = await connect();

  // These reach the hook: SUBACK 0x80, which mqtt.js turns into a rejection.
  for (const filter of ['$share//x', '$share/g', '$share/g/', '$share']) {
    t.same(await rawSubscribe(port, filter), [0x80], `${filter}: SUBACK failure`);
    await t.rejects(
      member.client.subscribeAsync(filter, { qos: 1 }),
      { message: /Subscribe error/ },
      `${filter}: mqtt.js rejects on SUBACK 0x80`,
    );
  }
  // A malformed MQTT filter (MQTT 3.1.1 §4.7.1: a wildcard must fill a whole level, # only last)
  // is a protocol violation: aedes checks it before any hook and closes the connection, and
  // mqtt.js refuses to send it at all.
  for (const filter of ['$share/g+/x', '$share/g/a/#/b']) {
    t.equal(await rawSubscribe(port, filter), 'closed', `${filter}: connection closed`);
    await t.rejects(
      member.client.subscribeAsync(filter, { qos: 1 }),
      { message: /Invalid topic/ },
      `${filter}: mqtt.js will not send it`,
    );
    t.equal(parseSharedFilter(filter)?.ok, false, `${filter}: not a valid shared filter either`);
  }
  t.equal(shared.members(), 0, 'no membership from a refused filter');
  t.ok(member.client.connected, 'a refused share does not disconnect the client');

  t.same(parseSharedFilter('$share/pay_ments-2/a/+/#'), {
    ok: true,
    group: 'pay_ments-2',
    filter: 'a/+/#',
  });
  t.equal(
    parseSharedFilter(`$share/${'g'.repeat(65)}/x`)?.ok,
    false,
    'group name over 64 characters',
  );
});

// mosquitto_sub comes with mosquitto-clients, which the test runner installs: never skipped.
t.test('a mosquitto_sub client is a member like any other', async (t) => {
  const { port, connect, shared } = await startBroker(t);
  const members = [await connect(), await connect()];
  await subscribeShare(members);
  // Strict round robin over 3 steady members: 300 messages are 100 each.
  const child = spawn(
    'mosquitto_sub',
    ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', '-i', 'mosquitto-member'].concat([
      '-q',
      '1',
      '-t',
      SHARE,
      '-C',
      '100',
      '-W',
      '120',
    ]),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // 'close', not 'exit': by then its output has been read to the end.
  const exited = once(child, 'close');
  await waitFor('mosquitto_sub to join', () => shared.members() === 3);

  const publisher = await connect();
  const ids = messageIds('mosquitto', 300);
  await publishAll(publisher.client, TOPIC, ids);
  const [code] = (await exited) as [number | null];
  t.equal(code, 0, 'mosquitto_sub exited after its 100 messages');
  const viaMosquitto = output.split('\n').filter(Boolean);
  await waitFor('the other members', () => total(members) + viaMosquitto.length >= 300);

  t.equal(viaMosquitto.length, 100);
  const delivered = [...members.flatMap((member) => member.ids), ...viaMosquitto];
  t.equal(delivered.length, 300, 'each message once');
  t.same(sorted(delivered), sorted(ids), 'every message');
});

t.test('the broker’s own hooks decide first', async (t) => {
  const askedFor: string[] = [];
  const { connect, shared } = await startBroker(t, {
    authorizeSubscribe(_client, sub, callback) {
      askedFor.push(sub.topic);
      callback(null, sub.topic.startsWith('secret/') ? null : sub);
    },
    authorizeForward(client, packet) {
      return client.id.startsWith('barred') ? null : packet;
    },
  });
  const member = await connect({ clientId: 'allowed-1' });
  await t.rejects(member.client.subscribeAsync('$share/g/secret/#', { qos: 1 }), {
    message: /Subscribe error/,
  });
  t.equal(shared.members(), 0);

  const barred = await connect({ clientId: 'barred-1' });
  await member.client.subscribeAsync('$share/g/open/#', { qos: 1 });
  await barred.client.subscribeAsync('$share/g/open/#', { qos: 1 });
  t.same(askedFor, ['secret/#', 'open/#', 'open/#'], 'the hook judges the bare filter');
  t.equal(shared.members(), 2);

  const publisher = await connect();
  const ids = messageIds('open', 50);
  await publishAll(publisher.client, 'open/door', ids);
  await waitFor('the allowed member', () => member.ids.length >= 50);
  t.same(sorted(member.ids), sorted(ids), 'a member the forward hook refuses is skipped');
  t.equal(barred.ids.length, 0);
});

t.test('a client with the same filter shared and plain gets both copies', async (t) => {
  const { connect } = await startBroker(t);
  const both = await connect();
  const other = await connect();
  await both.client.subscribeAsync(`$share/g/${TOPIC}`, { qos: 1 });
  await both.client.subscribeAsync(TOPIC, { qos: 1 });
  await other.client.subscribeAsync(`$share/g/${TOPIC}`, { qos: 1 });
  const publisher = await connect();

  const ids = messageIds('both', 100);
  await publishAll(publisher.client, TOPIC, ids);
  await waitFor('every copy', () => both.ids.length + other.ids.length >= 200);
  t.same(sorted(new Set(both.ids)), sorted(ids), 'every message through the plain subscription');
  t.equal(both.ids.length, 150, 'and half of them again as a group member');
  t.equal(other.ids.length, 50);

  await both.client.unsubscribeAsync(`$share/g/${TOPIC}`);
  await publishAll(publisher.client, TOPIC, messageIds('plain', 10));
  await waitFor('the plain copies', () => both.ids.length >= 160 && other.ids.length >= 60);
  t.equal(both.ids.length, 160, 'the plain subscription outlives the share');
});

t.test('with no member left, taken-back messages wait (bounded) for the next one', async (t) => {
  const { connect, shared, warnings } = await startBroker(t, {}, 5);
  const slow = await connect();
  slow.client.handleMessage = function neverAcknowledge() {};
  slow.client.on('error', () => {});
  await subscribeShare([slow]);
  const publisher = await connect();

  const ids = messageIds('orphan', 20);
  await publishAll(publisher.client, TOPIC, ids);
  await waitFor('all 20 in flight', () => shared.inflight() === 20);
  slow.client.stream.destroy();
  await waitFor('the queue', () => shared.members() === 0 && shared.pending() === 5);
  t.equal(shared.dropped(), 15, 'the oldest beyond the bound are dropped');
  t.match(warnings, [/queue full/], 'with a warning');
  t.equal(shared.groups(), 1, 'the group stays while it holds messages');

  const next = await connect();
  await subscribeShare([next]);
  await waitFor('the newest 5', () => next.ids.length >= 5);
  t.same(sorted(next.ids), sorted(ids.slice(15)));
  t.equal(shared.pending(), 0);
});

t.test('a persistent member stays in its group while offline and resumes', async (t) => {
  const { connect, shared } = await startBroker(t);
  const session = { clientId: 'payments-replica-1', clean: false };
  const first = await connect(session);
  await subscribeShare([first]);
  await first.client.endAsync();
  await waitFor('the disconnect', () => shared.members() === 1 && !first.client.connected);
  t.equal(shared.groups(), 1, 'the offline session keeps the group');

  const publisher = await connect();
  const ids = messageIds('offline', 10);
  await publishAll(publisher.client, TOPIC, ids);
  await waitFor('the queue', () => shared.pending() === 10);

  const resumed = await connect(session);
  await waitFor('the queued messages', () => resumed.ids.length >= 10);
  t.same(sorted(resumed.ids), sorted(ids), 'restored from the session, no new SUBSCRIBE');
  await waitFor('every PUBACK', () => shared.inflight() === 0);
  await resumed.client.endAsync();

  await connect({ clientId: session.clientId, clean: true });
  await waitFor('the share to go with the session', () => shared.members() === 0);
  t.equal(shared.groups(), 0);
});
