import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type AedesOptions, type Client } from 'aedes';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { Counter, Gauge } from 'prom-client';
import {
  checkPublish,
  maySubscribe,
  mqttServices,
  type MqttServiceName,
  type Principal,
} from '@mercado/common/contract';
import { createServicePasswordCheck } from '@mercado/common/mqtt';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import type { BrokerConfig } from './config.js';
import { guardPacketSize } from './packet-guard.js';
import { createConnectionRateLimit } from './connection-rate.js';
import { createRedisCluster, type RedisCluster } from './cluster.js';
import { installSharedSubscriptions, type SharedSubscriptions } from './shared-subscriptions.js';

export { loadBrokerConfig, brokerSettings, type BrokerConfig } from './config.js';
export { startListeners, type BrokerListeners } from './listeners.js';

/** Checks a payment terminal's id and secret (the users service's registry). */
export type TerminalVerifier = (terminalId: string, secret: Buffer) => Promise<boolean>;

export interface BrokerDeps {
  config: BrokerConfig;
  log: Logger;
  metrics: Metrics;
  /** Resolves the key of a browser's access token; defaults to JWKS_URL, fetched and cached. */
  keySet?: JWTVerifyGetKey;
  /** Without one, no terminal can connect. */
  verifyTerminal?: TerminalVerifier;
  /** More aedes options (e.g. a fixed id); REDIS_URL sets persistence and mq. */
  aedes?: Partial<AedesOptions>;
}

export interface MercadoBroker {
  aedes: Aedes;
  /** Hands a TCP/TLS socket or a WebSocket stream to the broker, behind the packet-size guard. */
  handle(stream: Duplex, request?: IncomingMessage): void;
  principalOf(client: Client): Principal | undefined;
  shared: SharedSubscriptions;
  close(): Promise<void>;
}

type Kind = Principal['kind'];

/** CONNACK return codes of MQTT 3.1.1 (§3.2.2.3). */
const badCredentials = 4;
const notAuthorized = 5;
const identifierRejected = 2;

function refusal(message: string, returnCode: number) {
  return Object.assign(new Error(message), { returnCode });
}

/**
 * Client ids are namespaced by principal: aedes drops the older connection when a new one comes
 * with the same client id (MQTT-3.1.4-2), so a free choice of id would let anyone kick a terminal
 * or a service off, or take over its persistent session.
 */
function clientIdAllowed(principal: Principal, clientId: string): boolean {
  switch (principal.kind) {
    case 'service':
      return clientId.startsWith(`${principal.service}-`);
    case 'terminal':
      return clientId === `terminal-${principal.terminalId}`;
    case 'browser':
      return clientId.startsWith(`web-${principal.userId}-`);
  }
}

function describe(principal: Principal): Record<string, string> {
  switch (principal.kind) {
    case 'service':
      return { kind: 'service', service: principal.service };
    case 'terminal':
      return { kind: 'terminal', terminalId: principal.terminalId };
    case 'browser':
      return { kind: 'browser', userId: principal.userId };
  }
}

/**
 * Mercado's broker: aedes with authentication (services, browsers, terminals), the topic
 * contract's authorization on every publish and subscribe, payload validation, a packet-size
 * guard and a connection rate per address. It does not listen: see listeners.ts.
 */
export async function createMercadoBroker({
  config,
  log,
  metrics,
  keySet = createRemoteJWKSet(new URL(config.JWKS_URL), { cooldownDuration: 30_000 }),
  verifyTerminal,
  aedes: aedesOptions = {},
}: BrokerDeps): Promise<MercadoBroker> {
  const registers = [metrics.registry];
  const connected = new Gauge({
    name: 'mqtt_connected_clients',
    help: 'Connected MQTT clients by kind',
    labelNames: ['kind'],
    registers,
  });
  // Per message, a plain number: prom-client's inc() validates its argument and labels on every
  // call, a cost worth avoiding at 100k+ messages a second. Scrapes read the numbers.
  const counted = {
    in: { service: 0, browser: 0, terminal: 0 } satisfies Record<Kind, number>,
    out: 0,
  };
  const reportedIn = { service: 0, browser: 0, terminal: 0 };
  new Counter({
    name: 'mqtt_messages_in_total',
    help: 'PUBLISH packets accepted from clients',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const kind of ['service', 'browser', 'terminal'] as const) {
        this.inc({ kind }, counted.in[kind] - reportedIn[kind]);
        reportedIn[kind] = counted.in[kind];
      }
    },
  });
  let reportedOut = 0;
  new Counter({
    name: 'mqtt_messages_out_total',
    help: 'PUBLISH packets delivered to clients',
    registers,
    collect() {
      this.inc(counted.out - reportedOut);
      reportedOut = counted.out;
    },
  });
  const denied = new Counter({
    name: 'mqtt_denied_total',
    help: 'Refused connects, publishes and subscribes',
    labelNames: ['action', 'kind'],
    registers,
  });
  const invalid = new Counter({
    name: 'mqtt_invalid_payloads_total',
    help: 'Published payloads dropped for not matching the topic contract',
    labelNames: ['reason'],
    registers,
  });
  for (const kind of ['service', 'browser', 'terminal'] satisfies Kind[])
    connected.set({ kind }, 0);
  const validateAll = config.VALIDATE_PAYLOADS_FROM === 'all';

  const principals = new WeakMap<Client, Principal>();
  /** Connected terminals' secrets, in memory only, to check them again (see recheckTerminals). */
  const terminalSecrets = new Map<Client, Buffer>();
  const allowConnection = createConnectionRateLimit(config.CONNECTIONS_PER_IP_PER_MINUTE);
  const addresses = new WeakMap<Client, string>();
  let rateRefusals = 0;
  const isServicePassword = createServicePasswordCheck(config);

  async function authenticateBrowser(token: string): Promise<Principal> {
    const { payload } = await jwtVerify(token, keySet, {
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      requiredClaims: ['sub', 'exp'],
      clockTolerance: 5,
    });
    return { kind: 'browser', userId: payload.sub! };
  }

  async function identify(
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<Principal | undefined> {
    if (username === undefined || password === undefined) return undefined;
    if (username.startsWith('service:')) {
      const service = username.slice('service:'.length) as MqttServiceName;
      if (!mqttServices.includes(service)) return undefined;
      return isServicePassword(service, password) ? { kind: 'service', service } : undefined;
    }
    if (username.startsWith('terminal:')) {
      const terminalId = username.slice('terminal:'.length);
      if (!verifyTerminal || terminalId.length === 0 || terminalId.length > 64) return undefined;
      return (await verifyTerminal(terminalId, password))
        ? { kind: 'terminal', terminalId }
        : undefined;
    }
    if (username === 'browser') {
      try {
        return await authenticateBrowser(password.toString('utf8'));
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  // Each node its own id (aedes' default is random too): claims and wills are kept per node.
  const nodeId = aedesOptions.id ?? randomUUID();
  const cluster: RedisCluster | undefined = config.REDIS_URL
    ? createRedisCluster(config.REDIS_URL, nodeId, log)
    : undefined;

  const aedes = await Aedes.createBroker({
    ...cluster?.aedes,
    ...aedesOptions,
    id: nodeId,
    connectTimeout: config.CONNECT_TIMEOUT_MS,
    keepaliveLimit: config.MAX_KEEPALIVE_SECONDS,
    queueLimit: config.MAX_QUEUED_PER_CLIENT,
    maxClientsIdLength: 128,
    maxTopicLevels: 16,

    preConnect(client, _packet, done) {
      const address = addresses.get(client) ?? 'unknown';
      if (allowConnection(address)) {
        done(null, true);
        return;
      }
      denied.inc({ action: 'connect', kind: 'rate' });
      // A storm would otherwise write one line per refused connection.
      rateRefusals++;
      if (rateRefusals === 1 || rateRefusals % 1_000 === 0) {
        log.warn({ address, refusedTotal: rateRefusals }, 'mqtt connection rate exceeded');
      }
      // An error, not `done(null, false)`: aedes 1.2 leaves the socket open on a plain `false`
      // (no CONNACK, no close), which would keep every refused connection of a storm alive.
      done(new Error('connection rate exceeded'), false);
    },

    authenticate(client, username, password, done) {
      identify(username, password).then(
        function identified(principal) {
          if (!principal) {
            denied.inc({ action: 'connect', kind: 'unknown' });
            log.warn(
              { clientId: client.id, username: username?.split(':')[0] },
              'mqtt connect refused',
            );
            done(refusal('bad credentials', username ? badCredentials : notAuthorized), false);
            return;
          }
          if (!clientIdAllowed(principal, client.id)) {
            denied.inc({ action: 'connect', kind: principal.kind });
            log.warn({ clientId: client.id, ...describe(principal) }, 'mqtt client id refused');
            done(refusal('client id outside its namespace', identifierRejected), false);
            return;
          }
          principals.set(client, principal);
          if (principal.kind === 'terminal' && password) terminalSecrets.set(client, password);
          done(null, true);
        },
        function failed(error: unknown) {
          log.error({ err: error }, 'mqtt authentication failed');
          done(refusal('authentication unavailable', 3), false);
        },
      );
    },

    authorizePublish(client, packet, done) {
      // A null client is the broker's own publish (a will is published with its client).
      if (!client) {
        done(null);
        return;
      }
      const principal = principals.get(client);
      const checked = principal
        ? checkPublish(principal, packet.topic, packet.payload as Buffer, {
            retain: packet.retain,
            validate: validateAll || principal.kind !== 'service',
          })
        : undefined;
      if (!principal || !checked || (!checked.ok && checked.denied)) {
        denied.inc({ action: 'publish', kind: principal?.kind ?? 'unknown' });
        log.warn(
          { clientId: client.id, topic: packet.topic, ...(principal ? describe(principal) : {}) },
          'mqtt publish denied; client disconnected',
        );
        done(new Error('publish not allowed'));
        return;
      }
      if (!checked.ok) {
        // Dropped, not refused: the sender's connection stays (it may be a service mid-batch);
        // the message goes to a topic no one may subscribe, unretained. Never log the payload.
        invalid.inc({ reason: checked.reason.split(':')[0]! });
        log.warn(
          {
            clientId: client.id,
            topic: packet.topic,
            reason: checked.reason,
            ...describe(principal),
          },
          'mqtt payload dropped: not as the contract says',
        );
        packet.topic = '$mercado/dropped';
        packet.retain = false;
        done(null);
        return;
      }
      counted.in[principal.kind]++;
      done(null);
    },

    authorizeSubscribe(client, subscription, done) {
      const principal = principals.get(client);
      if (!principal || !maySubscribe(principal, subscription.topic)) {
        denied.inc({ action: 'subscribe', kind: principal?.kind ?? 'unknown' });
        log.warn(
          {
            clientId: client.id,
            filter: subscription.topic,
            ...(principal ? describe(principal) : {}),
          },
          'mqtt subscribe denied',
        );
        // SUBACK 0x80 for this filter (MQTT-3.9.3); the connection stays.
        done(null, null);
        return;
      }
      done(null, subscription);
    },
  });

  aedes.on('clientReady', function onClientReady(client) {
    const principal = principals.get(client);
    if (principal) connected.inc({ kind: principal.kind });
  });
  aedes.on('clientDisconnect', function onClientDisconnect(client) {
    const principal = principals.get(client);
    if (principal) connected.dec({ kind: principal.kind });
    terminalSecrets.delete(client);
  });

  /**
   * QoS 1 messages in flight per client: counted from the client's packet identifier sequence
   * (aedes takes one per QoS 1 delivery: `client._nextId`, 1..65535, wrapping) against its
   * PUBACKs. Messages a resumed session gets again keep their identifiers and are not counted, so
   * the figure may run a little low after a resume, never high.
   */
  const inflight = new Map<Client, { lastId: number; sent: number; acked: number }>();
  const nextIdOf = (client: Client) => (client as unknown as { _nextId: number })._nextId;
  aedes.on('clientReady', function trackInflight(client) {
    inflight.set(client, { lastId: nextIdOf(client), sent: 0, acked: 0 });
  });
  aedes.on('ack', function countAck(_packet, client) {
    const state = inflight.get(client);
    if (state) state.acked++;
  });
  aedes.on('clientDisconnect', function untrackInflight(client) {
    inflight.delete(client);
  });
  function checkInflight(): void {
    for (const [client, state] of inflight) {
      const id = nextIdOf(client);
      state.sent += (id - state.lastId + 65_535) % 65_535;
      state.lastId = id;
      state.acked = Math.min(state.acked, state.sent);
      if (state.sent - state.acked <= config.MAX_INFLIGHT_PER_CLIENT) continue;
      inflight.delete(client);
      const principal = principals.get(client);
      denied.inc({ action: 'inflight', kind: principal?.kind ?? 'unknown' });
      log.warn(
        {
          clientId: client.id,
          inflight: state.sent - state.acked,
          ...(principal ? describe(principal) : {}),
        },
        'mqtt client stopped acknowledging (MAX_INFLIGHT_PER_CLIENT); disconnected',
      );
      client.close();
    }
  }
  const inflightCheck = setInterval(checkInflight, 1_000);
  inflightCheck.unref();

  /**
   * A terminal deleted from the registry, or whose secret was rotated, is disconnected at the next
   * check (its reconnect is then refused). When the registry cannot answer, terminals stay.
   */
  function recheckTerminals(): void {
    if (!verifyTerminal) return;
    for (const [client, secret] of terminalSecrets) {
      const principal = principals.get(client);
      if (principal?.kind !== 'terminal') continue;
      verifyTerminal(principal.terminalId, secret).then(
        function rechecked(valid) {
          if (valid || !terminalSecrets.has(client)) return;
          terminalSecrets.delete(client);
          denied.inc({ action: 'recheck', kind: 'terminal' });
          log.warn(
            { terminalId: principal.terminalId },
            'terminal no longer registered; disconnected',
          );
          client.close();
        },
        function recheckFailed(error: unknown) {
          log.warn({ err: { message: String(error) } }, 'terminal recheck unavailable');
        },
      );
    }
  }
  const terminalRecheck = setInterval(recheckTerminals, config.TERMINAL_CHECK_TTL_MS);
  terminalRecheck.unref();
  // Counted where each delivery is decided, last, after every other forwarding rule.
  const forward = aedes.authorizeForward.bind(aedes);
  aedes.authorizeForward = function countForward(client, packet) {
    const delivered = forward(client, packet);
    if (delivered) counted.out++;
    return delivered;
  };
  aedes.on('clientError', function onClientError(client, error) {
    log.debug({ clientId: client.id, err: { message: error.message } }, 'mqtt client error');
  });

  // Last: the shared subscriptions wrap the hooks above, so those judge `$share/…` filters first
  // (by their inner filter) and every delivery to a member.
  const shared = installSharedSubscriptions(aedes, {
    log,
    maxPendingPerGroup: config.SHARED_PENDING_PER_GROUP,
    ...(cluster
      ? { claim: cluster.claim, acquire: cluster.acquire, release: cluster.release }
      : {}),
  });
  const sharedGauges = {
    mqtt_shared_groups: ['Shared subscriptions with members or waiting messages', shared.groups],
    mqtt_shared_members: ['Members of shared subscriptions, online or not', shared.members],
    mqtt_shared_inflight: ['Shared QoS 1 messages not yet acknowledged', shared.inflight],
    mqtt_shared_pending: ['Shared messages waiting for a connected member', shared.pending],
  } as const;
  for (const [name, [help, read]] of Object.entries(sharedGauges)) {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  }
  const sharedCounters = {
    mqtt_shared_redelivered_total: [
      'Shared messages taken back from a departed member',
      shared.redelivered,
    ],
    mqtt_shared_dropped_total: ['Shared messages dropped (queue full, or refused)', shared.dropped],
  } as const;
  for (const [name, [help, read]] of Object.entries(sharedCounters)) {
    let reported = 0;
    new Counter({
      name,
      help,
      registers,
      collect() {
        const total = read();
        if (total > reported) this.inc(total - reported);
        reported = total;
      },
    });
  }

  return {
    aedes,
    handle(stream, request) {
      const address =
        request?.socket.remoteAddress ??
        (stream as { remoteAddress?: string }).remoteAddress ??
        'unknown';
      guardPacketSize(stream, config.MAX_PACKET_BYTES, () => {
        denied.inc({ action: 'packet', kind: 'oversize' });
        log.warn({ address }, 'mqtt packet over MAX_PACKET_BYTES; connection closed');
      });
      const client = aedes.handle(stream, request);
      addresses.set(client, address);
    },
    principalOf: (client) => principals.get(client),
    shared,
    async close() {
      clearInterval(terminalRecheck);
      clearInterval(inflightCheck);
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await cluster?.close();
    },
  };
}
