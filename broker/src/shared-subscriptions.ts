import type { Aedes, AedesPublishPacket, Client, Subscription } from 'aedes';
import { parseSharedFilter } from '@mercado/common/contract';

/**
 * MQTT shared subscriptions (`$share/{group}/{filter}`, MQTT 5 §4.8.2) for aedes 1.x, which has
 * none (aedes issue #228), offered to MQTT 3.1.1 clients the way mosquitto does: the client sends
 * the `$share/...` string as an ordinary topic filter.
 *
 * How it sits on aedes:
 * - `authorizeSubscribe` (wrapped, the broker's own hook decides first, judging the bare filter)
 *   records the membership and lets aedes keep the literal `$share/...` subscription. That literal
 *   subscription carries the session side for free: SUBACK, persistence of a clean:false session
 *   (restored on reconnect through this same hook), UNSUBSCRIBE, and no retained messages on
 *   subscribe (nothing is retained under `$share/`; MQTT 5 §3.3.1.3 sends retained messages for a
 *   new non-shared subscription only).
 * - Each (group, filter) has ONE listener on aedes' emitter for the bare filter. It picks one live
 *   member per message, round robin (skipping members the broker's `authorizeForward` refuses),
 *   and hands the message to that member alone through `client.publish`, keeping its topic.
 *   Members are deliberately not subscribed to the bare filter inside aedes: filtering per member
 *   in `authorizeForward` breaks clean:false members (aedes expects every QoS>0 packet it forwards
 *   to such a client to be in that client's outgoing store, and disconnects it with
 *   "no such packet" otherwise), and a member could not also hold a plain subscription to the same
 *   filter (aedes keys a client's subscriptions by filter string).
 * - Messages handed to a member carry a brokerId of their own (`{broker id}/$share`) and a counter
 *   of their own, so `authorizeForward` recognises them and aedes' per-client duplicate check does
 *   not mistake them for the copy a plain subscription of the same client already received.
 *
 * Redelivery: a QoS 1 message forwarded to a member is tracked by its packet identifier until the
 * member's PUBACK. aedes reports a PUBACK by calling
 * `persistence.outgoingClearMessageId(client, { messageId })` (its 'ack' event carries no packet
 * for clean sessions, which store nothing), so that call is decorated. When a member disconnects,
 * every message handed or forwarded to it and not yet acknowledged goes to another live member of
 * its group (or waits in the group's queue, below); for a clean:false member it is also
 * removed from the member's stored session, so it is not sent again when the member returns:
 * shared messages belong to the group, not to one member (MQTT 5 §4.8.2 allows sending them to
 * another client as soon as the connection is lost). QoS 2 messages are not reassigned: once sent
 * they belong to that member's session (MQTT-4.8.2-5). The packet identifier of a tracked message
 * is taken from the client's own identifier sequence (`client._nextId`, the one aedes uses), so it
 * cannot collide with aedes' other deliveries to that client.
 *
 * Membership: a clean session leaves its groups when it disconnects. A clean:false session stays a
 * member while offline (it receives nothing meanwhile); it leaves when it unsubscribes, when the
 * client id connects with a clean session, or when its resumed session no longer holds the share.
 * While a group has members but none is connected (e.g. every payments replica restarting with a
 * persistent session), its messages wait in a queue of at most `maxPendingPerGroup` (10,000 by
 * default, oldest dropped with a warn log) and go to the next member that is connected. Messages
 * taken back from a member that left wait in the same queue when no member is left at all, and go
 * to the next client that joins the group. A message published while a group has no member at
 * all is not for that group (like a filter nobody subscribes to).
 *
 * A client that holds `$share/g/f` and a plain `f` receives a message once through `f` and, when
 * the group picks it, a second time through the share: what mosquitto and MQTT 5 §4.8.2 do.
 * Order across members is not kept, and a message taken back from a member may be received twice
 * (once by the member that did not acknowledge it): consumers must be idempotent.
 *
 * Several broker nodes: membership, choice and queues live in each node's process, and every node
 * with members of a group sees every message of its filter. The `claim` option settles which
 * node takes each message (cluster.ts: one Redis script call per node and message; round robin
 * over the nodes with a connected member), `release` tells it when this node has none left.
 * Round robin then holds per node too; a message waiting in one node's queue goes to that node's
 * members only.
 */

const SHARE_PREFIX = '$share/';
const DEFAULT_MAX_PENDING_PER_GROUP = 10_000;

type QoS = AedesPublishPacket['qos'];

export interface SharedSubscriptionsOptions {
  log?: { warn(obj: object, msg: string): void };
  /** Messages kept per group while none of its members is connected (oldest dropped first). */
  maxPendingPerGroup?: number;
  /**
   * Several broker nodes on one emitter (mqemitter-redis): every node with members of a group sees
   * each message, and exactly one of them must take it. Resolves true on the one node that won
   * it; `hasLiveMember` tells whether this node could deliver it now. Without it (one node), every
   * message is taken.
   */
  claim?: ShareClaim;
  /** Called when a member of this node's group connects (the node may now be chosen). */
  acquire?: (groupKey: string) => void;
  /** Called when this node's group has no connected member left (it should not be chosen). */
  release?: (groupKey: string) => void;
}

/** Decides, across broker nodes, which node's group takes a message (see cluster.ts). */
export type ShareClaim = (
  groupKey: string,
  message: AedesPublishPacket,
  hasLiveMember: boolean,
) => Promise<boolean>;

/** Gauges and counters for metrics. */
export interface SharedSubscriptions {
  /** Shared subscriptions, i.e. (group, filter) pairs, with members or waiting messages. */
  groups(): number;
  /** Memberships, connected or held by an offline persistent session. */
  members(): number;
  /** QoS 1 messages forwarded to a member and not yet acknowledged. */
  inflight(): number;
  /** Messages waiting for a connected member. */
  pending(): number;
  /** Messages taken back from a member that disconnected without acknowledging them (total). */
  redelivered(): number;
  /** Messages dropped from a full group queue, or refused by every connected member (total). */
  dropped(): number;
}

/** True when a SUBSCRIBE/UNSUBSCRIBE filter asks for a shared subscription. */
export function isSharedTopic(topic: string): boolean {
  return topic === '$share' || topic.startsWith(SHARE_PREFIX);
}

interface Member {
  readonly clientId: string;
  /** null while a clean:false session is offline. */
  client: Client | null;
  qos: QoS;
}

interface Group {
  readonly key: string;
  readonly name: string;
  readonly filter: string;
  readonly members: Member[];
  /** Index in `members` where the next round robin search starts. */
  cursor: number;
  pending: AedesPublishPacket[];
  readonly listener: (packet: AedesPublishPacket, done: () => void) => void;
}

interface Delivery {
  readonly group: Group;
  readonly message: AedesPublishPacket;
  /** Members that did not take it (refused at delivery time): not chosen again for it. */
  readonly refusedBy: readonly Client[];
}

/** What this module has given to one connection and not yet seen settled. */
interface Session {
  /** By our brokerCounter: handed to `client.publish`, not yet through `authorizeForward`. */
  readonly handed: Map<number, Delivery>;
  /** By packet identifier: QoS 1, forwarded, waiting for PUBACK. */
  readonly inflight: Map<number, Delivery>;
}

/** The part of aedes' persistence this module uses; not in aedes' types. */
interface OutgoingStore {
  outgoingClearMessageId(client: Client, packet: { messageId?: number }): Promise<unknown>;
}

function noop(): void {}

function lowerQos(a: QoS, b: QoS): QoS {
  return a < b ? a : b;
}

function isLive(client: Client): boolean {
  return client.connected && !client.closed;
}

function isLiveMember(member: { client: Client | null }): boolean {
  return member.client !== null && isLive(member.client);
}

/**
 * Takes the next packet identifier from the client's own sequence, exactly as aedes' QoSPacket
 * does (1..65535, wrapping), so the identifier is known before the packet is written.
 */
function allocateMessageId(client: Client): number | undefined {
  const sequence = client as unknown as { _nextId?: unknown };
  const id = sequence._nextId;
  if (typeof id !== 'number') return undefined;
  sequence._nextId = id >= 65535 ? 1 : id + 1;
  return id;
}

export function installSharedSubscriptions(
  broker: Aedes,
  options: SharedSubscriptionsOptions = {},
): SharedSubscriptions {
  const log = options.log ?? { warn: noop };
  const claim = options.claim;
  const release = options.release ?? noop;
  const acquire = options.acquire ?? noop;
  const maxPending = options.maxPendingPerGroup ?? DEFAULT_MAX_PENDING_PER_GROUP;
  if (!Number.isInteger(maxPending) || maxPending < 1) {
    throw new Error(`maxPendingPerGroup must be a positive integer, got ${maxPending}`);
  }
  const persistence = (broker as unknown as { persistence?: OutgoingStore }).persistence;
  if (!persistence) {
    throw new Error('install shared subscriptions on a listening broker (Aedes.createBroker)');
  }

  const previousSubscribe = broker.authorizeSubscribe;
  const previousForward = broker.authorizeForward;
  const deliveryBrokerId = `${broker.id}/$share`;
  const groups = new Map<string, Group>();
  /** client id → subscribed `$share/...` filter → its group */
  const shares = new Map<string, Map<string, Group>>();
  const sessions = new Map<Client, Session>();
  let deliveryCounter = 0;
  let redelivered = 0;
  let dropped = 0;

  const clearMessageId = persistence.outgoingClearMessageId.bind(persistence);
  persistence.outgoingClearMessageId = function outgoingClearMessageIdShared(client, packet) {
    // Called for every PUBACK/PUBCOMP (and whenever aedes gives up a packet for a client).
    if (packet.messageId !== undefined) sessions.get(client)?.inflight.delete(packet.messageId);
    return clearMessageId(client, packet);
  };

  broker.authorizeSubscribe = function authorizeSubscribeShared(client, sub, callback) {
    if (!isSharedTopic(sub.topic)) {
      previousSubscribe.call(broker, client, sub, callback);
      return;
    }
    // The contract's parser: group 1–64 of [A-Za-z0-9_-] (safe in logs and metrics), a valid filter.
    const shared = parseSharedFilter(sub.topic);
    if (!shared?.ok) {
      callback(null, null); // SUBACK 0x80, MQTT 3.1.1 §3.9.3
      return;
    }
    const bare: Subscription = { ...sub, topic: shared.filter };
    previousSubscribe.call(
      broker,
      client,
      bare,
      function sharedSubscribeAuthorized(error, granted) {
        if (error || !granted) {
          callback(error, null);
          return;
        }
        if (!client.closed) join(client, sub.topic, shared.group, granted.topic, granted.qos);
        callback(null, { ...sub, qos: granted.qos });
      },
    );
  };

  broker.authorizeForward = function authorizeForwardShared(client, packet) {
    const forwarded = previousForward.call(broker, client, packet);
    if (packet.brokerId === deliveryBrokerId) {
      return forwardDelivery(client, packet.brokerCounter, forwarded || null);
    }
    // Only a member's literal `$share/...` subscription matches such a topic: never a delivery.
    if (packet.topic.startsWith(SHARE_PREFIX)) return null;
    return forwarded;
  };

  broker.on('unsubscribe', function leaveUnsubscribedShares(topics, client) {
    const subscribed = shares.get(client.id);
    if (!subscribed) return;
    for (const topic of topics) {
      const group = subscribed.get(topic);
      const member = group && findMember(group, client.id);
      if (group && member?.client === client) removeMember(group, member, topic);
    }
  });

  broker.on('client', function dropDiscardedSessionShares(client) {
    // [MQTT-3.1.2-6] a clean session discards the stored one, and its shares with it.
    if (!client.clean) return;
    forEachShare(client.id, (topic, group, member) => {
      if (member.client === null) removeMember(group, member, topic);
    });
  });

  broker.on('clientReady', function resumeShares(client) {
    forEachShare(client.id, (topic, group, member) => {
      if (member.client === client) {
        acquire(group.key);
        flush(group);
      }
      // the resumed session no longer holds this share (e.g. the ACL now refuses it)
      else if (member.client === null) removeMember(group, member, topic);
    });
  });

  broker.on('clientDisconnect', function reassignDisconnectedMember(client) {
    forEachShare(client.id, (topic, group, member) => {
      if (member.client !== client) return;
      if (client.clean) removeMember(group, member, topic);
      else member.client = null;
      if (!group.members.some(isLiveMember)) release(group.key);
    });
    const session = sessions.get(client);
    if (!session) return;
    sessions.delete(client);
    if (!client.clean) {
      for (const messageId of session.inflight.keys()) {
        clearMessageId(client, { messageId }).then(noop, noop);
      }
    }
    for (const delivery of [...session.handed.values(), ...session.inflight.values()]) {
      redelivered++;
      dispatch(currentGroup(delivery.group), delivery.message);
    }
  });

  function join(client: Client, topic: string, name: string, filter: string, qos: QoS): void {
    const key = `${SHARE_PREFIX}${name}/${filter}`;
    const group = groups.get(key) ?? createGroup(key, name, filter);
    const member = findMember(group, client.id);
    if (member) {
      member.client = client;
      member.qos = qos;
    } else {
      group.members.push({ clientId: client.id, client, qos });
    }
    let subscribed = shares.get(client.id);
    if (!subscribed) {
      subscribed = new Map();
      shares.set(client.id, subscribed);
    }
    subscribed.set(topic, group);
    acquire(key);
    if (group.pending.length > 0) setImmediate(flush, group);
  }

  function createGroup(key: string, name: string, filter: string): Group {
    // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with $
    const skipDollar = filter.startsWith('+') || filter.startsWith('#');
    const group: Group = {
      key,
      name,
      filter,
      members: [],
      cursor: 0,
      pending: [],
      listener: function deliverToGroup(packet, done) {
        if (group.members.length === 0 || (skipDollar && packet.topic.startsWith('$'))) {
          done();
          return;
        }
        if (!claim) {
          dispatch(group, toMessage(packet), done);
          return;
        }
        const message = toMessage(packet);
        claim(group.key, message, group.members.some(isLiveMember)).then(
          function claimed(won) {
            if (won) dispatch(currentGroup(group), message);
          },
          function claimFailed(error: unknown) {
            // Taken here rather than by no one: a duplicate is safer than a loss (at least once).
            log.warn(
              { group: group.name, filter: group.filter, err: { message: String(error) } },
              'shared subscription claim failed; message taken by this node',
            );
            dispatch(currentGroup(group), message);
          },
        );
        done();
      },
    };
    groups.set(key, group);
    broker.subscribe(filter, group.listener, noop);
    return group;
  }

  /** A delivery may outlive its group object (emptied, then asked for again): use the live one. */
  function currentGroup(group: Group): Group {
    return groups.get(group.key) ?? createGroup(group.key, group.name, group.filter);
  }

  function deleteIfUnused(group: Group): void {
    if (group.members.length > 0 || group.pending.length > 0) return;
    if (groups.get(group.key) !== group) return;
    groups.delete(group.key);
    broker.unsubscribe(group.filter, group.listener, noop);
  }

  function findMember(group: Group, clientId: string): Member | undefined {
    return group.members.find((member) => member.clientId === clientId);
  }

  function removeMember(group: Group, member: Member, topic: string): void {
    const index = group.members.indexOf(member);
    if (index !== -1) {
      group.members.splice(index, 1);
      if (index < group.cursor) group.cursor--;
      if (group.cursor >= group.members.length) group.cursor = 0;
    }
    if (!group.members.some(isLiveMember)) release(group.key);
    const subscribed = shares.get(member.clientId);
    if (subscribed?.get(topic) === group) {
      subscribed.delete(topic);
      if (subscribed.size === 0) shares.delete(member.clientId);
    }
    deleteIfUnused(group);
  }

  function forEachShare(
    clientId: string,
    visit: (topic: string, group: Group, member: Member) => void,
  ): void {
    const subscribed = shares.get(clientId);
    if (!subscribed) return;
    for (const [topic, group] of [...subscribed]) {
      const member = findMember(group, clientId);
      if (member) visit(topic, group, member);
    }
  }

  /** The message as the group will hand it on: same topic, payload and QoS, retain cleared. */
  function toMessage(packet: AedesPublishPacket): AedesPublishPacket {
    const message: AedesPublishPacket = {
      cmd: 'publish',
      topic: packet.topic,
      payload: packet.payload,
      qos: packet.qos,
      // [MQTT-3.3.1-9] a message matching an established subscription goes out with RETAIN 0
      retain: false,
      dup: false,
      brokerId: packet.brokerId,
      brokerCounter: packet.brokerCounter,
    };
    // aedes records the publisher's client id on the packet; forward hooks may rely on it
    const publisher = (packet as { clientId?: string }).clientId;
    if (publisher !== undefined) Object.assign(message, { clientId: publisher });
    return message;
  }

  /** Round robin over connected members the broker's forward hook lets have this message. */
  function chooseMember(
    group: Group,
    message: AedesPublishPacket,
    refusedBy: readonly Client[],
  ): Member | undefined {
    const members = group.members;
    for (let i = 0; i < members.length; i++) {
      const index = (group.cursor + i) % members.length;
      const member = members[index]!;
      const client = member.client;
      if (
        client &&
        isLive(client) &&
        !refusedBy.includes(client) &&
        previousForward.call(broker, client, message)
      ) {
        group.cursor = (index + 1) % members.length;
        return member;
      }
    }
    return undefined;
  }

  function dispatch(
    group: Group,
    message: AedesPublishPacket,
    done: () => void = noop,
    refusedBy: readonly Client[] = [],
  ): void {
    const member = chooseMember(group, message, refusedBy);
    if (member?.client) {
      const delivery = { group, message, refusedBy };
      deliver(member.client, lowerQos(message.qos, member.qos), delivery, done);
    } else if (refusedBy.length > 0 && group.members.some(isLiveMember)) {
      dropped++;
      log.warn(
        { group: group.name, filter: group.filter, topic: message.topic },
        'shared subscription message dropped: no member accepted it',
      );
      deleteIfUnused(group);
      done();
    } else {
      enqueue(group, message);
      done();
    }
  }

  function deliver(client: Client, qos: QoS, delivery: Delivery, done: () => void): void {
    const key = ++deliveryCounter;
    let session = sessions.get(client);
    if (!session) {
      session = { handed: new Map(), inflight: new Map() };
      sessions.set(client, session);
    }
    session.handed.set(key, delivery);
    const packet: AedesPublishPacket = {
      ...delivery.message,
      qos,
      brokerId: deliveryBrokerId,
      brokerCounter: key,
    };
    client.publish(packet, function sharedMessageWritten() {
      // Still handed: aedes never asked authorizeForward (e.g. storing it in the member's session
      // failed). Give it to another member.
      if (sessions.get(client)?.handed.delete(key)) refused(delivery, client);
      done();
    });
  }

  function forwardDelivery(
    client: Client,
    key: number,
    forwarded: AedesPublishPacket | null,
  ): AedesPublishPacket | null {
    const session = sessions.get(client);
    const delivery = session?.handed.get(key);
    // Unknown: already given to another member, or an old copy a resumed session still stored.
    if (!session || !delivery) return null;
    session.handed.delete(key);
    if (!forwarded) {
      setImmediate(refused, delivery, client);
      return null;
    }
    if (forwarded.qos !== 1) return forwarded;
    const messageId = allocateMessageId(client);
    if (messageId === undefined) return forwarded;
    session.inflight.set(messageId, delivery);
    return { ...forwarded, messageId };
  }

  /**
   * The member did not take the message after all (the forward hook said no at delivery time, or
   * aedes never asked it): another member gets it.
   */
  function refused(delivery: Delivery, client: Client): void {
    const group = currentGroup(delivery.group);
    dispatch(group, delivery.message, noop, [...delivery.refusedBy, client]);
  }

  function enqueue(group: Group, message: AedesPublishPacket): void {
    if (group.pending.length >= maxPending) {
      group.pending.shift();
      dropped++;
      // first drop and every 1,000th: a full queue would otherwise log once per message
      if (dropped === 1 || dropped % 1_000 === 0) {
        log.warn(
          { group: group.name, filter: group.filter, maxPending, droppedTotal: dropped },
          'shared subscription queue full: oldest message dropped',
        );
      }
    }
    group.pending.push(message);
  }

  function flush(group: Group): void {
    if (broker.closed || group.pending.length === 0) return;
    if (!group.members.some(isLiveMember)) return;
    const waiting = group.pending;
    group.pending = [];
    for (const message of waiting) dispatch(group, message);
  }

  return {
    groups: () => groups.size,
    members: () => sum(groups.values(), (group) => group.members.length),
    inflight: () => sum(sessions.values(), (session) => session.inflight.size),
    pending: () => sum(groups.values(), (group) => group.pending.length),
    redelivered: () => redelivered,
    dropped: () => dropped,
  };
}

function sum<T>(items: Iterable<T>, count: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += count(item);
  return total;
}
