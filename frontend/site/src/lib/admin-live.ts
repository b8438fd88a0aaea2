import mqtt, { type MqttClient } from 'mqtt';
import { accessRenewalDue, accessToken, currentUser, onSessionChange } from './session.js';

/**
 * The back office's live connection: MQTT over WebSocket at the page's own origin (`/mqtt`, which
 * the gateway or the load balancer passes to the broker), as the signed-in admin — username
 * `browser`, the access token as password; the broker lets a token with the admin role read
 * `terminals/+/status` and nothing more. Each terminal's status arrives retained on subscribing,
 * then live as it changes.
 *
 * The broker closes the connection when its token expires, so the token is renewed a little
 * before (the session's renewal time) and the connection made again with the new one, as with any
 * other change of session (`onSessionChange`: a renewal in another tab too). A connection that
 * drops is made again after a growing pause (1 s doubling to 15 s), each time with a fresh token.
 */
export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'refused' | 'closed';

export interface TerminalStatusEvent {
  terminalId: string;
  status: 'online' | 'offline';
  /** The terminal's own time for it, when it sent one. */
  at: string | undefined;
  /** Heard on subscribing (the broker's retained copy), rather than as it happened. */
  retained: boolean;
}

export interface LiveTerminals {
  readonly state: LiveState;
  close(): void;
}

const statusTopic = /^terminals\/([^/]+)\/status$/;

export function followTerminalStatus(handlers: {
  status(event: TerminalStatusEvent): void;
  state(state: LiveState): void;
}): LiveTerminals {
  let client: MqttClient | undefined;
  let token: string | undefined;
  let state: LiveState = 'connecting';
  let closed = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let renewal: ReturnType<typeof setTimeout> | undefined;
  let pause = 1_000;

  const setState = (next: LiveState) => {
    if (state === next) return;
    state = next;
    handlers.state(next);
  };

  function drop(): void {
    const old = client;
    client = undefined;
    token = undefined;
    old?.removeAllListeners();
    // A listener for errors stays: an EventEmitter with none throws.
    old?.on('error', () => undefined);
    old?.end(true);
  }

  function later(): void {
    if (closed) return;
    clearTimeout(retry);
    retry = setTimeout(() => void open(), pause);
    pause = Math.min(pause * 2, 15_000);
  }

  /** A timer that renews the token a little before it expires (the session then tells us). */
  function renewBeforeExpiry(): void {
    clearTimeout(renewal);
    const due = accessRenewalDue();
    if (due === undefined) return;
    renewal = setTimeout(() => void accessToken(), Math.max(1_000, due - Date.now() + 100));
  }

  async function open(): Promise<void> {
    if (closed) return;
    clearTimeout(retry);
    const fresh = await accessToken();
    const user = currentUser();
    if (closed) return;
    if (!fresh || !user) {
      drop();
      setState('closed');
      return;
    }
    drop();
    renewBeforeExpiry();
    token = fresh;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const mine = mqtt.connect(`${scheme}://${location.host}/mqtt`, {
      protocolVersion: 4,
      clientId: `web-${user.id}-${Math.random().toString(36).slice(2, 10)}`,
      username: 'browser',
      password: fresh,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      keepalive: 30,
      // Plain timers: mqtt.js's default in browsers runs them in a Worker made from a blob:
      // URL, which the site's CSP (script-src 'self') refuses.
      timerVariant: 'native',
    });
    client = mine;
    mine.on('connect', () => {
      mine.subscribe('terminals/+/status', { qos: 1 }, (error, granted) => {
        if (client !== mine) return;
        if (error || !granted || granted.some((grant) => grant.qos === 128)) {
          // Not granted: the token lacks the admin role (taken away since?). No use retrying.
          setState('refused');
          drop();
          return;
        }
        pause = 1_000;
        setState('live');
      });
    });
    mine.on('message', (topic, payload, packet) => {
      const terminalId = statusTopic.exec(topic)?.[1];
      if (!terminalId) return;
      let message: { type?: unknown; status?: unknown; at?: unknown };
      try {
        message = JSON.parse(new TextDecoder().decode(payload)) as typeof message;
      } catch {
        return;
      }
      if (message.status !== 'online' && message.status !== 'offline') return;
      handlers.status({
        terminalId,
        status: message.status,
        at: typeof message.at === 'string' ? message.at : undefined,
        retained: packet.retain,
      });
    });
    mine.on('error', () => undefined);
    mine.on('close', () => {
      if (client !== mine) return;
      drop();
      if (closed) return;
      setState('reconnecting');
      later();
    });
  }

  const stopListening = onSessionChange((user) => {
    if (closed) return;
    if (!user) {
      drop();
      setState('closed');
      return;
    }
    // A new access token (renewed here or in another tab): connect again with it.
    void accessToken().then((fresh) => {
      if (!closed && fresh && fresh !== token) {
        setState('reconnecting');
        void open();
      }
    });
  });
  handlers.state(state);
  void open();
  return {
    get state() {
      return state;
    },
    close() {
      closed = true;
      clearTimeout(retry);
      clearTimeout(renewal);
      stopListening();
      drop();
      setState('closed');
    },
  };
}
