import type { Aedes, AedesPublishPacket, Client } from 'aedes';
import {
  createRevocationLedger,
  parsePayload,
  revocationListPath,
  revocationListResponseSchema,
  topics,
} from '@mercado/common/contract';
import { createServiceClient } from '@mercado/common/http';
import { type Logger } from '@mercado/common/log';
import type { Clock } from './clock.js';
import type { Accepted } from './hooks/authenticate.js';
import type { BrokerMetrics } from './metrics.js';
import type { Principals } from './principals.js';

export interface RevocationsOptions {
  /** The users service, which lists recent revocations; without it, only announcements count. */
  usersUrl?: string | undefined;
  internalSecret: string;
  log: Logger;
  metrics: BrokerMetrics;
  principals: Principals;
  clock: Clock;
  /** A terminal's credentials were revoked: forget what is cached, recheck its connections. */
  onTerminalRevoked(terminalId: string): void;
  /** Announcements may have been missed (a cluster node lost Redis): recheck every terminal. */
  onAnnouncementsMissed(): void;
  /** How often the list is asked for again while the users service does not answer. */
  retryMs?: number;
}

export interface Revocations {
  /**
   * Whether a browser's token (`iat` in ms) was revoked; throws while the broker does not know
   * yet (the list has not arrived), which `authenticate` answers with CONNACK 3.
   */
  browserRevoked(userId: string, issuedAtMs: number): boolean;
  accepted(client: Client, accepted: Accepted): void;
  /** Fetch the list again (the broker's own message stream had a gap). */
  catchUp(): void;
  stop(): void;
}

/**
 * Every broker node hears the users service's `users/revocations` announcements on its own message
 * stream (aedes' emitter; through Redis, every node's), not as a client:
 *
 * - an **account** revoked (disabled, or a role taken away): its browsers' connections whose token
 *   was issued at or before the instant are closed, and such tokens are refused from then on
 *   (CONNACK 4), on every node;
 * - a **terminal** deleted or given a new secret: `onTerminalRevoked` forgets the registry's cached
 *   answers for it and checks its connections again, so the old secret is refused and its
 *   connection closed within a second rather than after TERMINAL_CHECK_TTL_MS.
 *
 * A node that starts, or whose stream had a gap (a clustered node that lost Redis: `catchUp`),
 * asks the users service for the recent revocations (`GET /internal/revocations`), and rechecks
 * every terminal. Until the first list has arrived a browser is refused with CONNACK 3 (it
 * retries) rather than let in with a revoked token; retried every `retryMs`. Without USERS_URL
 * only announcements count (a node started after one accepts the token until it expires).
 */
export function watchRevocations(
  aedes: Aedes,
  {
    usersUrl,
    internalSecret,
    log,
    metrics,
    principals,
    clock,
    onTerminalRevoked,
    onAnnouncementsMissed,
    retryMs = 1_000,
  }: RevocationsOptions,
): Revocations {
  const ledger = createRevocationLedger();
  /** Browsers' tokens' `iat`, ms, from their CONNECT on. */
  const issuedAt = new WeakMap<Client, number>();
  /** Browsers' connections open now, by user. */
  const browsers = new Map<string, Set<Client>>();
  let loaded = usersUrl === undefined;
  let stopped = false;
  let retry: unknown;
  let fetching = false;
  let again = false;
  const users = usersUrl
    ? createServiceClient({
        caller: 'broker',
        baseUrls: [usersUrl],
        internalSecret,
        timeoutMs: 2_000,
      })
    : undefined;

  function closeIfRevoked(client: Client): boolean {
    const principal = principals.get(client);
    if (principal?.kind !== 'browser' || client.closed) return false;
    const iatMs = issuedAt.get(client);
    if (iatMs === undefined || !ledger.isRevoked(principal.userId, iatMs)) return false;
    metrics.denied.inc({ action: 'revoked', kind: 'browser' });
    log.info(
      { clientId: client.id, userId: principal.userId },
      'browser token revoked; disconnected',
    );
    client.close();
    return true;
  }

  function closeRevokedBrowsers(userId?: string): void {
    const sets = userId === undefined ? browsers.values() : [browsers.get(userId) ?? new Set()];
    for (const clients of sets) for (const client of [...clients]) closeIfRevoked(client);
  }

  async function fetchList(): Promise<void> {
    const response = await users!.request<unknown>('GET', revocationListPath);
    const parsed =
      response.status === 200 ? revocationListResponseSchema.safeParse(response.body) : undefined;
    if (!parsed?.success) {
      throw new Error(`the users service answered ${response.status} to the revocation list`);
    }
    // Known from the list only when its announcement was missed.
    for (const userId of ledger.apply(parsed.data)) {
      if (loaded) log.info({ userId, source: 'list' }, 'account tokens revoked');
    }
    ledger.forgetExpired(clock.now());
  }

  function catchUp(): void {
    if (!users || stopped) return;
    // One question at a time; a gap reported meanwhile asks once more after it.
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    clock.clearTimeout(retry);
    fetchList().then(
      function listed() {
        fetching = false;
        if (!loaded) log.info({ known: ledger.size }, 'revocation list loaded');
        loaded = true;
        closeRevokedBrowsers();
        onAnnouncementsMissed();
        if (again) {
          again = false;
          catchUp();
        }
      },
      function listUnavailable(error: unknown) {
        fetching = false;
        again = false;
        log.warn({ err: { message: String(error) } }, 'revocation list unavailable; retrying');
        if (!stopped) retry = clock.setTimeout(catchUp, retryMs);
      },
    );
  }

  function heard(packet: AedesPublishPacket, done: () => void): void {
    const message = parsePayload(packet.topic, packet.payload as Buffer);
    done();
    if (!message.ok || message.name !== 'revocations') {
      log.warn(
        { topic: packet.topic, reason: message.ok ? 'other_topic' : message.reason },
        'revocation ignored',
      );
      return;
    }
    const event = message.value;
    if (event.type === 'account.tokens_revoked') {
      if (ledger.revoke(event.userId, Date.parse(event.revokedBefore))) {
        log.info(
          { userId: event.userId, reason: event.reason, eventId: event.id },
          'account tokens revoked',
        );
      }
      closeRevokedBrowsers(event.userId);
      return;
    }
    log.info(
      { terminalId: event.terminalId, reason: event.reason, eventId: event.id },
      'terminal credentials revoked',
    );
    onTerminalRevoked(event.terminalId);
  }
  aedes.subscribe(topics.revocations.build(), heard, () => undefined);

  aedes.on('clientReady', function trackBrowser(client) {
    const principal = principals.get(client);
    if (principal?.kind !== 'browser') return;
    // Revoked between its CONNECT being checked and its session being ready.
    if (closeIfRevoked(client)) return;
    const clients = browsers.get(principal.userId) ?? new Set<Client>();
    clients.add(client);
    browsers.set(principal.userId, clients);
  });
  aedes.on('clientDisconnect', function untrackBrowser(client) {
    const principal = principals.get(client);
    if (principal?.kind !== 'browser') return;
    const clients = browsers.get(principal.userId);
    clients?.delete(client);
    if (clients?.size === 0) browsers.delete(principal.userId);
  });

  catchUp();

  return {
    browserRevoked(userId, issuedAtMs) {
      if (!loaded) throw new Error('revocation list not loaded yet');
      return ledger.isRevoked(userId, issuedAtMs);
    },
    accepted(client, { principal, claims }) {
      if (principal.kind === 'browser' && typeof claims?.iat === 'number') {
        issuedAt.set(client, Math.round(claims.iat * 1_000));
      }
    },
    catchUp,
    stop() {
      stopped = true;
      clock.clearTimeout(retry);
      aedes.unsubscribe(topics.revocations.build(), heard, () => undefined);
    },
  };
}
