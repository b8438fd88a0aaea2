import {
  createRevocationLedger,
  parsePayload,
  revocationListPath,
  revocationListResponseSchema,
  topics,
} from '@mercado/common/contract';
import { createServiceClient } from '@mercado/common/http';
import { type Logger } from '@mercado/common/log';
import { createServiceMqttClient, type MqttClient } from '@mercado/common/mqtt';

export interface RevocationWatchOptions {
  /**
   * The broker, where the users service announces revocations on `users/revocations`, and the
   * gateway's own broker password (it logs in as service `gateway`).
   */
  mqtt: { MQTT_URL: string; MQTT_PASSWORD: string };
  /** The users service, which lists the recent ones. */
  usersUrls: readonly string[];
  /** Signs the gateway's service identity to users. */
  internalSecret: string;
  log: Logger;
  /** How often the list is fetched while the broker cannot be reached, and retried on failure. */
  pollMs?: number;
}

export interface RevocationWatch {
  /** Whether the list has been had from the users service at least once since the start. */
  loaded(): boolean;
  /**
   * Whether a token of `userId` issued at `issuedAtMs` (its `iat`, in ms; undefined counts as
   * the epoch) was revoked: issued at or before the account's last revocation.
   */
  isRevoked(userId: string, issuedAtMs: number | undefined): boolean;
  /** Resolves true once loaded, or false after `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * What this gateway replica knows of revoked access tokens, kept current within a second:
 *
 * - **Announced**: it subscribes (as service `gateway`, a plain subscription, so every replica
 *   hears every announcement) to `users/revocations`, where the users service publishes each
 *   disabling or demotion from its outbox.
 * - **Caught up**: on every connection to the broker — the first one, and each reconnection, since
 *   a clean session hears nothing of what was published while it was away — it subscribes, waits
 *   for the SUBACK, then fetches the recent revocations from the users service, so nothing
 *   announced before or during the gap is missed. A replica started after an announcement learns
 *   it this way.
 * - **Broker unreachable**: the list is fetched every `pollMs` until the broker is back, so a
 *   revocation still takes effect within about that long while users answers. If neither can be
 *   reached, the replica keeps refusing what it knew and accepts the rest until the tokens expire
 *   (at most the access token lifetime): failing closed would sign every shopper out whenever the
 *   broker restarts.
 * - **Before the first list** has arrived, nothing is known: the gateway answers signed-in
 *   requests 503 (see app.ts) rather than let a revoked token through; it retries every `pollMs`.
 *   Its JWKS comes from the users service too, so this adds no dependency at start.
 *
 * Entries are forgotten once no token issued before them can still be valid.
 */
export function startRevocationWatch({
  mqtt: mqttConfig,
  usersUrls,
  internalSecret,
  log,
  pollMs = 1_000,
}: RevocationWatchOptions): RevocationWatch {
  const ledger = createRevocationLedger();
  let loadedOnce = false;
  let closed = false;
  let fetching: Promise<void> | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  const whenLoaded: Array<() => void> = [];
  const users = createServiceClient({
    caller: 'gateway',
    baseUrls: usersUrls,
    internalSecret,
    timeoutMs: 2_000,
  });

  /**
   * True until a list fetched while subscribed has arrived: from the start, and again whenever
   * the broker connection drops (announcements made meanwhile were not heard).
   */
  let stale = true;
  let subscribed = false;

  async function fetchList(): Promise<void> {
    const whileSubscribed = subscribed;
    const response = await users.request<unknown>('GET', revocationListPath);
    const parsed =
      response.status === 200 ? revocationListResponseSchema.safeParse(response.body) : undefined;
    if (!parsed?.success) {
      throw new Error(`the users service answered ${response.status} to the revocation list`);
    }
    // Known from the list only when its announcement was missed (or not made yet).
    for (const userId of ledger.apply(parsed.data)) {
      if (loadedOnce) log.info({ userId, source: 'list' }, 'account tokens revoked');
    }
    ledger.forgetExpired(Date.now());
    if (whileSubscribed && subscribed) stale = false;
    if (!loadedOnce) {
      loadedOnce = true;
      log.info({ known: ledger.size }, 'revocation list loaded');
      for (const wake of whenLoaded.splice(0)) wake();
    }
  }

  /** Fetches the list (after the fetch under way, if any); a failure is retried on the poll. */
  function catchUp(): Promise<void> {
    const run = (fetching ?? Promise.resolve()).then(fetchList).catch(function listUnavailable(
      error: unknown,
    ) {
      log.warn({ err: { message: String(error) } }, 'revocation list unavailable; retrying');
    });
    const tracked: Promise<void> = run.finally(function fetchEnded() {
      if (fetching === tracked) fetching = undefined;
      schedulePoll();
    });
    fetching = tracked;
    return tracked;
  }

  function schedulePoll(): void {
    if (closed || pollTimer || !stale) return;
    pollTimer = setTimeout(function pollRevocations() {
      pollTimer = undefined;
      if (!closed && stale && !fetching) void catchUp();
    }, pollMs);
    pollTimer.unref();
  }

  const mqtt: MqttClient = createServiceMqttClient({
    service: 'gateway',
    config: mqttConfig,
    log,
    // Subscribed by hand on each connection, so the list is fetched after the SUBACK.
    options: { clean: true, resubscribe: false },
  })!;
  mqtt.on('connect', function subscribeToRevocations() {
    mqtt.subscribeAsync(topics.revocations.build(), { qos: topics.revocations.qos }).then(
      function subscribedToRevocations() {
        subscribed = true;
        void catchUp();
      },
      function subscriptionRefused(error: unknown) {
        log.error({ err: { message: String(error) } }, 'revocations subscription refused');
        schedulePoll();
      },
    );
  });
  mqtt.on('close', function pollWhileDisconnected() {
    subscribed = false;
    stale = true;
    schedulePoll();
  });
  mqtt.on('message', function onRevocation(topic, payload) {
    const message = parsePayload(topic, payload);
    if (!message.ok || message.name !== 'revocations') {
      log.warn(
        { topic, reason: message.ok ? 'other_topic' : message.reason },
        'revocation ignored',
      );
      return;
    }
    const event = message.value;
    if (event.type !== 'account.tokens_revoked') return;
    if (ledger.revoke(event.userId, Date.parse(event.revokedBefore))) {
      log.info(
        { userId: event.userId, reason: event.reason, eventId: event.id },
        'account tokens revoked',
      );
    }
  });
  // The list does not wait for the broker.
  void catchUp();

  return {
    loaded: () => loadedOnce,
    isRevoked: (userId, issuedAtMs) => ledger.isRevoked(userId, issuedAtMs ?? 0),
    ready(timeoutMs) {
      if (loadedOnce) return Promise.resolve(true);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        timer.unref();
        whenLoaded.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
    async close() {
      closed = true;
      clearTimeout(pollTimer);
      await mqtt.endAsync(true);
      await fetching;
    },
  };
}
