import type { Aedes, Client } from 'aedes';
import { jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { mqttServices, type MqttServiceName, type Principal } from '@mercado/common/contract';
import { accessTokenAlgorithms, isAccessTokenFault } from '@mercado/common/identity';
import { createServicePasswordCheck } from '@mercado/common/mqtt';
import { type Logger } from '@mercado/common/log';
import type { Clock } from '../clock.js';
import type { BrokerConfig } from '../config.js';
import type { BrokerMetrics } from '../metrics.js';
import { describe, type Principals } from '../principals.js';
import type { TerminalVerifier } from '../terminal-verifier.js';

/** CONNACK return codes of MQTT 3.1.1 (§3.2.2.3). */
const identifierRejected = 2;
const serverUnavailable = 3;
const badCredentials = 4;
const notAuthorized = 5;

function refusal(message: string, returnCode: number) {
  return Object.assign(new Error(message), { returnCode });
}

/** What a connection proved when it was accepted, for the hooks that watch it afterwards. */
export interface Accepted {
  principal: Principal;
  /** The password it connected with (a terminal's secret is checked again later). */
  password: Buffer;
  /** A browser's verified access-token claims. */
  claims?: JWTPayload;
}

export interface AuthenticateDeps {
  config: BrokerConfig;
  log: Logger;
  metrics: BrokerMetrics;
  /** Resolves the key of a browser's access token. */
  keySet: JWTVerifyGetKey;
  /** Without one, no terminal can connect. */
  verifyTerminal?: TerminalVerifier | undefined;
  principals: Principals;
  clock: Clock;
  /**
   * Whether a browser's token was revoked (its `iat` in ms); throws while that cannot be known
   * (CONNACK 3). Without it, none is.
   */
  browserRevoked?: (userId: string, issuedAtMs: number) => boolean;
  /** Told of every accepted connection, before its CONNACK. */
  onAccepted?: (client: Client, accepted: Accepted) => void;
  /** Where a connection comes from (behind a trusted proxy, the client's own), for log lines. */
  addressOf?: (client: Client) => string | undefined;
}

/**
 * Client ids are namespaced by principal: aedes drops the older connection when a new one comes
 * with the same client id (MQTT-3.1.4-2), so a free choice of id would let anyone kick a terminal
 * or a service off, or take over its persistent session.
 */
export function clientIdAllowed(principal: Principal, clientId: string): boolean {
  switch (principal.kind) {
    case 'service':
      return clientId.startsWith(`${principal.service}-`);
    case 'terminal':
      return clientId === `terminal-${principal.terminalId}`;
    case 'browser':
      return clientId.startsWith(`web-${principal.userId}-`);
  }
}

/**
 * aedes' `authenticate` hook: services by their broker password, terminals by the registry's
 * answer, browsers by their access token. Refusals: CONNACK 5 (no credentials), 4 (bad
 * credentials or token), 2 (client id outside its namespace), 3 (authentication unavailable).
 */
export function createAuthenticate({
  config,
  log,
  metrics,
  keySet,
  verifyTerminal,
  principals,
  clock,
  browserRevoked,
  onAccepted,
  addressOf = () => undefined,
}: AuthenticateDeps): Aedes['authenticate'] {
  const isServicePassword = createServicePasswordCheck(config);
  async function identify(
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<Omit<Accepted, 'password'> | undefined> {
    if (username === undefined || password === undefined) return undefined;
    if (username.startsWith('service:')) {
      const service = username.slice('service:'.length) as MqttServiceName;
      if (!mqttServices.includes(service)) return undefined;
      return isServicePassword(service, password)
        ? { principal: { kind: 'service', service } }
        : undefined;
    }
    if (username.startsWith('terminal:')) {
      const terminalId = username.slice('terminal:'.length);
      if (!verifyTerminal || terminalId.length === 0 || terminalId.length > 64) return undefined;
      return (await verifyTerminal(terminalId, password))
        ? { principal: { kind: 'terminal', terminalId } }
        : undefined;
    }
    if (username === 'browser') {
      try {
        const { payload } = await jwtVerify(password.toString('utf8'), keySet, {
          // The kit's policy (EdDSA only), shared with the gateway.
          algorithms: [...accessTokenAlgorithms],
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          requiredClaims: ['sub', 'exp', 'iat'],
          // For a users service whose clock runs a little ahead (iat, nbf)…
          clockTolerance: 5,
          currentDate: new Date(clock.now()),
        });
        // …but never a connection with a token already past its expiry by the broker's clock:
        // it would be closed as soon as it was made (see browser-expiry.ts).
        if (payload.exp! * 1_000 <= clock.now()) return undefined;
        // An account disabled or demoted since (iat may be fractional: milliseconds count).
        if (browserRevoked?.(payload.sub!, Math.round(payload.iat! * 1_000))) return undefined;
        // Its roles, as the token carries them (a role taken away revokes the token: above).
        const roles = Array.isArray(payload.roles)
          ? payload.roles.filter((role): role is string => typeof role === 'string')
          : [];
        return { principal: { kind: 'browser', userId: payload.sub!, roles }, claims: payload };
      } catch (error) {
        if (isAccessTokenFault(error)) return undefined;
        throw error;
      }
    }
    return undefined;
  }

  return function authenticate(client, username, password, done) {
    identify(username, password).then(
      function identified(identity) {
        if (!identity) {
          metrics.denied.inc({ action: 'connect', kind: 'unknown' });
          log.warn(
            {
              clientId: client.id,
              username: username?.split(':')[0],
              address: addressOf(client),
            },
            'mqtt connect refused',
          );
          done(refusal('bad credentials', username ? badCredentials : notAuthorized), false);
          return;
        }
        const { principal } = identity;
        if (!clientIdAllowed(principal, client.id)) {
          metrics.denied.inc({ action: 'connect', kind: principal.kind });
          log.warn(
            { clientId: client.id, ...describe(principal), address: addressOf(client) },
            'mqtt client id refused',
          );
          done(refusal('client id outside its namespace', identifierRejected), false);
          return;
        }
        principals.set(client, principal);
        onAccepted?.(client, { ...identity, password: password! });
        done(null, true);
      },
      function failed(error: unknown) {
        // The message only: a jose error can carry the token's claims.
        const { message, code } = error as { message?: string; code?: unknown };
        log.error({ err: { message, code } }, 'mqtt authentication unavailable');
        done(refusal('authentication unavailable', serverUnavailable), false);
      },
    );
  };
}
