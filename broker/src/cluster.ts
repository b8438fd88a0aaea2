import { createRequire } from 'node:module';
import { setTimeout as delay } from 'node:timers/promises';
import type { AedesOptions } from 'aedes';
import { Redis } from 'ioredis';
import type { Logger } from '@mercado/common/log';
import type { ShareClaim } from './shared-subscriptions.js';

const require = createRequire(import.meta.url);

/** aedes-persistence's callback façade over the async store (what aedes 1.x calls). */
interface Persistence {
  on(event: 'error', listener: (error: Error) => void): void;
  destroy(): Promise<void>;
}
type PersistenceFactory = (options: { conn: Redis }) => Persistence;
interface Emitter {
  /** mqemitter-redis re-emits its connections' errors here; unheard, an 'error' would crash us. */
  state: {
    on(event: 'error', listener: (error: Error) => void): void;
    on(event: 'subConnect', listener: () => void): void;
  };
  close(callback: () => void): void;
}
type EmitterFactory = (options: { connectionString: string }) => Emitter;

const createRedisPersistence = require('aedes-persistence-redis') as PersistenceFactory;
const createRedisEmitter = require('mqemitter-redis') as EmitterFactory;

/** How long a shared message's claim key lives: longer than any node takes to see the message. */
const CLAIM_TTL_MS = 60_000;
/** How long QUIT may wait for Redis at shutdown. */
const QUIT_TIMEOUT_MS = 2_000;
/** A node that stops bidding for a group (it crashed) stops being chosen after this long. */
const NODE_TTL_MS = 3_000;
/** A node whose members of a group are all offline bids this late, so a node that can deliver wins. */
const OFFLINE_BID_DELAY_MS = 250;

/**
 * Decides which node's group takes one message, the same answer for every node that asks.
 * KEYS: the message's claim, the group's live nodes (sorted set, score = expiry in ms), the
 * group's round robin counter. ARGV: this node's id, '1' when it has a connected member, the
 * node and claim lifetimes. The first node to ask chooses, round robin over the nodes that have
 * said (by asking, within NODE_TTL_MS) that they have a connected member; a node with none asking
 * first (no live node at all) takes it itself and queues it for its members.
 */
const claimScript = `
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[2], nowMs + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
local winner = redis.call('GET', KEYS[1])
if winner then return winner end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', nowMs)
local nodes = redis.call('ZRANGE', KEYS[2], 0, -1)
if #nodes == 0 then
  winner = ARGV[1]
else
  table.sort(nodes)
  local turn = redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
  winner = nodes[(turn % #nodes) + 1]
end
redis.call('SET', KEYS[1], winner, 'PX', ARGV[4])
return winner
`;

/** KEYS: groups' live-node sets. ARGV: this node's id, the node lifetime. */
const refreshScript = `
local now = redis.call('TIME')
local expires = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[2])
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, expires, ARGV[1])
  redis.call('PEXPIRE', key, ARGV[2])
end
return #KEYS
`;

interface ClaimCommands {
  refreshShareNodes(...args: (string | number)[]): Promise<number>;
  claimShare(
    claimKey: string,
    nodesKey: string,
    turnKey: string,
    nodeId: string,
    live: '0' | '1',
    nodeTtlMs: number,
    claimTtlMs: number,
  ): Promise<string>;
}

export interface RedisCluster {
  /** For Aedes.createBroker: sessions, retained and queued messages in Redis; messages through it. */
  aedes: Pick<AedesOptions, 'persistence' | 'mq'>;
  /** Which node's shared-subscription group takes a message (see shared-subscriptions.ts). */
  claim: ShareClaim;
  /** A member of the group connected to this node: choose it from now on. */
  acquire(groupKey: string): void;
  /** This node has no connected member of the group left: stop choosing it at once. */
  release(groupKey: string): void;
  /**
   * Called each time the node's subscription to the cluster's messages (re)connects: what was
   * published while it was down never reached this node.
   */
  onMessagesResumed(listener: () => void): void;
  /** After the broker has closed (aedes closes the emitter itself). */
  close(): Promise<void>;
}

/**
 * A broker node backed by Redis: aedes-persistence-redis keeps sessions, subscriptions, retained
 * messages, wills and queued QoS 1 messages, so they outlive a node's restart; mqemitter-redis
 * carries every message to every node, so nodes behind one load balancer form one broker.
 *
 * What a client sees while a node restarts: its connection drops and it reconnects (through the
 * load balancer, to any node) and resumes its persistent session there. QoS 1 messages that were
 * sent to it but not yet acknowledged are sent again (DUP), and messages may arrive out of order
 * around the restart — Mercado's handlers are idempotent by event id and do not rely on order.
 * Messages a client published and had not seen PUBACKed are re-sent by the client.
 *
 * Shared subscriptions across nodes: every node with members of a group sees each message, and
 * asks Redis (one script call) which node takes it: round robin over the nodes that have a
 * connected member (each node announces its groups when a member joins, and every second). A
 * node that crashed is chosen for up to NODE_TTL_MS (3 s) after its last
 * call; the messages chosen for it then are lost to the group — its members' connections died
 * with it anyway, and a payment request's sender retries with its idempotency key.
 */
/** QUIT, waiting for pending replies; a connection that cannot say goodbye is dropped. */
async function quitGracefully(connection: Redis): Promise<void> {
  if (connection.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, QUIT_TIMEOUT_MS);
  });
  await Promise.race([connection.quit().catch(() => undefined), timedOut]);
  clearTimeout(timer);
  connection.disconnect();
}

export function createRedisCluster(url: string, nodeId: string, log: Logger): RedisCluster {
  const store = new Redis(url);
  const claims = new Redis(url, { enableAutoPipelining: true });
  claims.defineCommand('claimShare', { numberOfKeys: 3, lua: claimScript });
  claims.defineCommand('refreshShareNodes', { lua: refreshScript });
  const commands = claims as unknown as ClaimCommands;
  const nodesKey = (groupKey: string) => `mercado:share-nodes:${groupKey}`;

  /** Groups with a connected member on this node: announced, and kept announced until released. */
  const liveGroups = new Set<string>();
  function announce(groupKeys: string[]): void {
    if (groupKeys.length === 0) return;
    commands
      .refreshShareNodes(groupKeys.length, ...groupKeys.map(nodesKey), nodeId, NODE_TTL_MS)
      .catch(function announceFailed(error: unknown) {
        log.warn({ err: { message: String(error) } }, 'shared subscription announce failed');
      });
  }
  const refresher = setInterval(() => announce([...liveGroups]), NODE_TTL_MS / 3);
  refresher.unref();
  for (const [name, connection] of [
    ['persistence', store],
    ['claims', claims],
  ] as const) {
    connection.on('error', function onRedisError(error: Error) {
      log.warn({ connection: name, err: { message: error.message } }, 'broker redis error');
    });
  }
  const persistence = createRedisPersistence({ conn: store });
  persistence.on('error', function onPersistenceError(error) {
    log.error({ err: { message: error.message } }, 'broker persistence failed');
  });
  const mq = createRedisEmitter({ connectionString: url });
  mq.state.on('error', function onEmitterError(error) {
    log.warn({ connection: 'emitter', err: { message: error.message } }, 'broker redis error');
  });

  return {
    aedes: { persistence, mq },
    async claim(groupKey, message, hasLiveMember) {
      if (!hasLiveMember) await delay(OFFLINE_BID_DELAY_MS);
      // brokerId + brokerCounter name one message cluster-wide: the node that received it sets them.
      const winner = await commands.claimShare(
        `mercado:share:${groupKey}:${message.brokerId}:${message.brokerCounter}`,
        nodesKey(groupKey),
        `mercado:share-turn:${groupKey}`,
        nodeId,
        hasLiveMember ? '1' : '0',
        NODE_TTL_MS,
        CLAIM_TTL_MS,
      );
      return winner === nodeId;
    },
    acquire(groupKey) {
      if (liveGroups.has(groupKey)) return;
      liveGroups.add(groupKey);
      announce([groupKey]);
    },
    release(groupKey) {
      liveGroups.delete(groupKey);
      claims.zrem(nodesKey(groupKey), nodeId).catch(function releaseFailed(error) {
        // It expires by itself after NODE_TTL_MS.
        log.warn({ err: { message: String(error) } }, 'shared subscription release failed');
      });
    },
    onMessagesResumed(listener) {
      mq.state.on('subConnect', listener);
    },
    async close() {
      clearInterval(refresher);
      // QUIT, not a disconnect (what persistence.destroy() does): the commands aedes issued while
      // its clients were closing get their replies first. A disconnect rejects them, and nobody
      // awaits those promises: an unhandled rejection ("Connection is closed") in every process.
      await Promise.all([quitGracefully(store), quitGracefully(claims)]);
    },
  };
}
