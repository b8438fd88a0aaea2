import type { MqttClient } from 'mqtt';
import { accessRenewalDue, accessToken, currentUser, onSessionChange } from './session.js';

/**
 * The shopper's live connection: MQTT over WebSocket at this site's own `/mqtt` (the gateway in
 * `npm start`, the load balancer in production), as username `browser` with the access token as
 * password, subscribed to `orders/{userId}/{orderId}/status` for the orders a page follows. The
 * broker lets a browser read its own orders' topics only, and closes the connection when the
 * token expires: this reconnects with a fresh token then, and at once when the session renews
 * it (another tab may have). mqtt.js is loaded only by the pages that follow something.
 *
 * `onState` says what the page's indicator shows: `live`, `connecting` (or reconnecting),
 * `offline` (the browser has no network), `signed-out`.
 */
export type LiveState = 'connecting' | 'live' | 'offline' | 'signed-out';

export interface StatusEvent {
  type: 'order.status_changed';
  id: string;
  orderId: string;
  status: string;
  at: string;
}

export interface LiveFollow {
  close(): void;
}

export function followOrders(
  orderIds: readonly string[],
  onStatus: (event: StatusEvent) => void,
  onState: (state: LiveState) => void,
): LiveFollow {
  let closed = false;
  let client: MqttClient | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let renewTimer: ReturnType<typeof setTimeout> | undefined;
  let attempt = 0;
  /** The token the open connection authenticated with. */
  let inUse: string | undefined;

  async function connect(): Promise<void> {
    clearTimeout(retryTimer);
    clearTimeout(renewTimer);
    if (closed) return;
    const user = currentUser();
    const token = await accessToken();
    if (!user || !token) {
      client?.end(true);
      client = undefined;
      inUse = undefined;
      onState('signed-out');
      return;
    }
    // The session changed, but not this connection's token (another page's call renewed it
    // after this one connected with the new one already): nothing to do.
    if (client?.connected && token === inUse) return;
    inUse = token;
    onState(navigator.onLine ? 'connecting' : 'offline');
    const { default: mqtt } = await import('mqtt');
    if (closed) return;
    client?.end(true);
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/mqtt`;
    const next = mqtt.connect(url, {
      username: 'browser',
      password: token,
      clientId: `web-${user.id}-${crypto.randomUUID().slice(0, 8)}`,
      clean: true,
      // Reconnecting is this module's: each attempt needs a token that is still good.
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      protocolVersion: 4,
      // Plain timers: the default starts a Web Worker from a blob, which the site's CSP refuses.
      timerVariant: 'native',
    });
    client = next;
    next.on('connect', () => {
      attempt = 0;
      const topics = orderIds.map((orderId) => `orders/${user.id}/${orderId}/status`);
      next.subscribe(topics, { qos: 1 }, (error) => {
        if (error) {
          onState('connecting');
          next.end(true);
          return;
        }
        onState('live');
      });
      // A new token before the broker closes the connection at this one's expiry.
      const due = accessRenewalDue();
      if (due !== undefined) {
        renewTimer = setTimeout(() => void connect(), Math.max(1_000, due - Date.now()));
      }
    });
    next.on('message', (_topic, payload) => {
      try {
        const event = JSON.parse(new TextDecoder().decode(payload)) as StatusEvent;
        if (event.type === 'order.status_changed' && orderIds.includes(event.orderId)) {
          onStatus(event);
        }
      } catch {
        // Not an event of ours: ignored.
      }
    });
    next.on('error', () => undefined);
    next.on('close', () => {
      if (closed || client !== next) return;
      onState(navigator.onLine ? 'connecting' : 'offline');
      // 0.5 s, 1 s, 2 s … up to 15 s between attempts.
      const delay = Math.min(15_000, 500 * 2 ** attempt);
      attempt += 1;
      retryTimer = setTimeout(() => void connect(), delay);
    });
  }

  const unsubscribe = onSessionChange(() => void connect());
  const online = () => void connect();
  window.addEventListener('online', online);
  void connect();
  return {
    close() {
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(renewTimer);
      unsubscribe();
      window.removeEventListener('online', online);
      client?.end(true);
    },
  };
}
