import { baseServiceSettings, loadConfig, setting } from '@mercado/common/config';
import { servicePasswordHashesSettings } from '@mercado/common/mqtt';
import { z } from 'zod';
import { trustedEntryProblem } from './trusted-proxies.js';

/** MQTT_PROXY_TRUSTED: addresses and CIDR blocks, comma-separated, at least one. */
const trustedList = setting
  .list()
  .pipe(
    z
      .array(
        z
          .string()
          .refine((entry) => !trustedEntryProblem(entry), 'must be addresses or CIDR blocks'),
      )
      .min(1),
  );

export const brokerSettings = {
  /** HOST, PORT (the HTTP port: /health, /metrics and MQTT over WebSocket at /mqtt), LOG_LEVEL… */
  ...baseServiceSettings,
  /** MQTT over TCP; 0 picks a free port. */
  MQTT_PORT: setting.port(1883),
  /** MQTT over TLS, when both files are given. */
  MQTTS_PORT: setting.port(8883),
  /**
   * MQTT over TCP for the load balancer (nginx's stream with `proxy_protocol on;`): every
   * connection must open with a PROXY protocol header (v1 or v2) naming the client, and come from
   * MQTT_PROXY_TRUSTED; the header's address is the one the connection rate and the logs use. A
   * port of its own, since the PROXY spec forbids guessing whether a header is there: MQTT_PORT
   * stays plain MQTT for clients that connect directly. Unset: no such listener; 0: a free port.
   */
  MQTT_PROXY_PORT: setting.port().optional(),
  /**
   * The proxies whose word on a client's address counts: a PROXY header on MQTT_PROXY_PORT from
   * anyone else is refused, and `X-Forwarded-For` on the WebSocket upgrade is read only from them
   * (without it, the peer's own address). Addresses or CIDR blocks, comma-separated; required
   * with MQTT_PROXY_PORT.
   */
  MQTT_PROXY_TRUSTED: setting.requiredWith('MQTT_PROXY_PORT', trustedList),
  TLS_CERT_FILE: setting.string(''),
  TLS_KEY_FILE: setting.string(''),
  /** Signs the broker's calls to the users service's terminal registry; no default. */
  INTERNAL_SECRET: setting.secret(32),
  /**
   * MQTT_PASSWORD_HASHES_{SERVICE} per contract service: the SHA-256 digests of the passwords it
   * may log in with (comma-separated: old and new during a rotation). A service without one is
   * not admitted. See serviceMqttCredentials.
   */
  ...servicePasswordHashesSettings,
  /** Where browsers' access tokens are checked (the users service's key set, cached). */
  JWKS_URL: setting.url(),
  /**
   * The users service, which holds the terminal registry (id + hashed secret) and lists recent
   * revocations. Unset: no terminal can connect, and only announced revocations count.
   */
  USERS_URL: setting.url().optional(),
  /**
   * How long a terminal check is reused; connected terminals are checked again this often. A
   * deleted terminal or a rotated secret is announced and cut off at once; this bounds a missed
   * announcement.
   */
  TERMINAL_CHECK_TTL_MS: setting.int(30_000, 1_000, 3_600_000),
  JWT_ISSUER: setting.string('mercado'),
  JWT_AUDIENCE: setting.string('mercado-api'),
  /** The largest MQTT packet a client may send; larger ones end its connection. */
  MAX_PACKET_BYTES: setting.int(64 * 1024, 1024, 16 * 1024 * 1024),
  /** New connections per client address per minute (a burst of a quarter of it is allowed). */
  CONNECTIONS_PER_IP_PER_MINUTE: setting.int(600, 1, 1_000_000),
  /**
   * Packets a client may send before its CONNECT has been answered (aedes queueLimit: they wait
   * while the credentials are checked); more end the connection.
   */
  MAX_QUEUED_PER_CLIENT: setting.int(1_000, 10, 1_000_000),
  /**
   * QoS 1 messages sent to one client and not yet acknowledged; a client past it is disconnected
   * (checked every second), so a consumer that stops acknowledging cannot grow the broker's
   * memory. A shared-subscription member's unacknowledged messages then go to another member.
   */
  MAX_INFLIGHT_PER_CLIENT: setting.int(2_000, 10, 1_000_000),
  /** Longest keep-alive a client may ask for, seconds (aedes keepaliveLimit); 0 is refused. */
  MAX_KEEPALIVE_SECONDS: setting.int(300, 10, 65_535),
  /**
   * Redis for sessions, retained and queued messages (they survive a restart) and for the cluster:
   * every broker node given the same Redis is one broker. Unset: in memory, one node.
   */
  REDIS_URL: setting.url().optional(),
  /** Shared-subscription messages kept per group while none of its members is connected. */
  SHARED_PENDING_PER_GROUP: setting.int(10_000, 1, 1_000_000),
  /**
   * Whose payloads the broker validates against the contract before delivering them: `untrusted`
   * (terminals and browsers: devices and people it cannot vouch for) or `all` (services too).
   * Services authenticate with their own passwords, validate what they publish (the outbox relay does
   * before sending) and what they receive; checking their messages a third time costs ~5 µs of
   * the broker's one thread per message (measured: QoS 0 throughput 90% → 67% of bare aedes).
   */
  VALIDATE_PAYLOADS_FROM: setting.oneOf(['untrusted', 'all'], 'untrusted'),
  /**
   * A connection must send CONNECT within this many milliseconds (on MQTT_PROXY_PORT, its PROXY
   * header first within as long).
   */
  CONNECT_TIMEOUT_MS: setting.int(10_000, 100, 120_000),
};

export type BrokerConfig = ReturnType<typeof loadBrokerConfig>;

export function loadBrokerConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(brokerSettings, env);
}
