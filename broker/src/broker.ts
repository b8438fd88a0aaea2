import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type AedesOptions, type Client } from 'aedes';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import type { Principal } from '@mercado/common/contract';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import { disconnectAtExpiry } from './browser-expiry.js';
import { systemClock, type Clock } from './clock.js';
import type { BrokerConfig } from './config.js';
import { createRedisCluster } from './cluster.js';
import { createConnectionRateGuard } from './guards/connection-rate.js';
import { guardInflight } from './guards/inflight.js';
import { guardPacketSize } from './guards/packet-size.js';
import { createProxyHeaderGate } from './guards/proxy-header.js';
import { createAuthenticate } from './hooks/authenticate.js';
import { authorizePublishes, createAuthorizeSubscribe } from './hooks/authorize.js';
import { createBrokerMetrics, registerSharedMetrics } from './metrics.js';
import type { Principals } from './principals.js';
import { installSharedSubscriptions, type SharedSubscriptions } from './shared-subscriptions.js';
import { watchRevocations } from './revocations.js';
import { recheckTerminals } from './terminal-recheck.js';
import type { TerminalVerifier } from './terminal-verifier.js';
import { forwardedClient, trustedProxies } from './trusted-proxies.js';

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
  /** Token expiry and the connection rate read it; tests pass one they move. */
  clock?: Clock;
}

export interface MercadoBroker {
  aedes: Aedes;
  /**
   * Hands a TCP/TLS socket or a WebSocket stream (with its upgrade `request`) to the broker,
   * behind the packet-size guard. The client's address, which the connection rate and the logs
   * use, is `address` when the listener has read it (a PROXY header), else the upgrade's
   * `X-Forwarded-For` when its peer is in MQTT_PROXY_TRUSTED, else the peer's own.
   */
  handle(stream: Duplex, from?: { request?: IncomingMessage; address?: string }): void;
  /**
   * Hands a connection of MQTT_PROXY_PORT to the broker once its PROXY header, from a trusted
   * peer, has named the client (guards/proxy-header.ts); closes it otherwise.
   */
  handleProxied(socket: net.Socket): void;
  principalOf(client: Client): Principal | undefined;
  shared: SharedSubscriptions;
  close(): Promise<void>;
}

/**
 * Mercado's broker: aedes with authentication (services, browsers, terminals), the topic
 * contract's authorization on every publish and subscribe, payload validation, a packet-size
 * guard, a connection rate per address and an in-flight limit per client, browsers closed at
 * their token's expiry, revocations heard from the users service, metrics, and shared
 * subscriptions. Each concern is a module of its own (hooks/, guards/); this puts them together
 * on one aedes instance. It does not listen: see listeners.ts.
 */
export async function createMercadoBroker({
  config,
  log,
  metrics: registry,
  keySet = createRemoteJWKSet(new URL(config.JWKS_URL), { cooldownDuration: 30_000 }),
  verifyTerminal,
  aedes: aedesOptions = {},
  clock = systemClock,
}: BrokerDeps): Promise<MercadoBroker> {
  // Each node its own id (aedes' default is random too): claims and wills are kept per node.
  const nodeId = aedesOptions.id ?? randomUUID();
  const cluster = config.REDIS_URL ? createRedisCluster(config.REDIS_URL, nodeId, log) : undefined;
  const aedes = await Aedes.createBroker({
    ...cluster?.aedes,
    ...aedesOptions,
    id: nodeId,
    connectTimeout: config.CONNECT_TIMEOUT_MS,
    keepaliveLimit: config.MAX_KEEPALIVE_SECONDS,
    queueLimit: config.MAX_QUEUED_PER_CLIENT,
    maxClientsIdLength: 128,
    maxTopicLevels: 16,
  });

  // aedes looks each hook up on the instance when it needs it, so they are set here, once the
  // modules that watch the broker's events exist. No client can connect before handle().
  const principals: Principals = new WeakMap();
  const metrics = createBrokerMetrics(registry);
  const trusted = trustedProxies(config.MQTT_PROXY_TRUSTED ?? []);
  const rate = createConnectionRateGuard({
    perMinute: config.CONNECTIONS_PER_IP_PER_MINUTE,
    log,
    metrics,
    now: () => clock.now(),
  });
  const terminals = recheckTerminals(aedes, {
    verifyTerminal,
    intervalMs: config.TERMINAL_CHECK_TTL_MS,
    log,
    metrics,
  });
  const expiry = disconnectAtExpiry(aedes, { clock, log, metrics, principals });
  const revocations = watchRevocations(aedes, {
    usersUrl: config.USERS_URL,
    internalSecret: config.INTERNAL_SECRET,
    log,
    metrics,
    principals,
    clock,
    onTerminalRevoked: terminals.revoked,
    onAnnouncementsMissed: terminals.recheckAll,
  });
  cluster?.onMessagesResumed(revocations.catchUp);
  aedes.preConnect = rate.preConnect;
  aedes.authenticate = createAuthenticate({
    config,
    log,
    metrics,
    keySet,
    verifyTerminal,
    principals,
    clock,
    browserRevoked: revocations.browserRevoked,
    addressOf: rate.addressOf,
    onAccepted(client, accepted) {
      terminals.accepted(client, accepted);
      expiry.accepted(client, accepted);
      revocations.accepted(client, accepted);
    },
  });
  authorizePublishes(aedes, { config, log, metrics, principals });
  aedes.authorizeSubscribe = createAuthorizeSubscribe({ log, metrics, principals });
  // Counted where each delivery is decided, after the broker's own forwarding rules.
  metrics.attach(aedes, principals);
  const stopInflightGuard = guardInflight(aedes, {
    maxInflight: config.MAX_INFLIGHT_PER_CLIENT,
    log,
    metrics,
    principals,
  });
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
  registerSharedMetrics(registry, shared);

  function handle(
    stream: Duplex,
    { request, address: given }: Parameters<MercadoBroker['handle']>[1] = {},
  ) {
    const address =
      given ??
      (request
        ? forwardedClient(request, trusted)
        : (stream as { remoteAddress?: string }).remoteAddress) ??
      'unknown';
    guardPacketSize(stream, config.MAX_PACKET_BYTES, () => {
      metrics.denied.inc({ action: 'packet', kind: 'oversize' });
      log.warn({ address }, 'mqtt packet over MAX_PACKET_BYTES; connection closed');
    });
    rate.remember(aedes.handle(stream, request), address);
  }

  return {
    aedes,
    handle,
    handleProxied: createProxyHeaderGate({
      trusted,
      timeoutMs: config.CONNECT_TIMEOUT_MS,
      log,
      metrics,
      admit: (socket, address) => handle(socket, { address }),
    }),
    principalOf: (client) => principals.get(client),
    shared,
    async close() {
      terminals.stop();
      expiry.stop();
      revocations.stop();
      stopInflightGuard();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await cluster?.close();
    },
  };
}
