import type { TerminalRow } from '../data/terminals-repository.js';

/**
 * Whether a terminal is connected, as its retained `terminals/{id}/status` last said: `unknown`
 * when it never said, or when this service cannot hear the broker (no MQTT_URL, or disconnected).
 */
export interface Presence {
  status: 'online' | 'offline' | 'unknown';
  /** When the status began, as the terminal stamped it or as it was heard; null when not known. */
  since: string | null;
}

/** Where presence comes from: the broker (see terminal-presence.ts), or nowhere. */
export interface TerminalPresence {
  presenceOf(terminalId: string): Presence;
}

export const presenceUnknown: TerminalPresence = {
  presenceOf: () => ({ status: 'unknown', since: null }),
};

/** A terminal as the API shows it: never its secret or the secret's hash. */
export interface TerminalView {
  id: string;
  name: string;
  location: string | null;
  /** What the terminal connects to the broker with (its password is the secret). */
  mqtt: { username: string; clientId: string };
  presence: Presence;
  createdAt: string;
  createdBy: string;
  secretRotatedAt: string;
}

/** The broker's naming rules for a terminal (broker/src/hooks/authenticate.ts, `identify`, `clientIdAllowed`). */
export function terminalMqttIdentity(id: string): TerminalView['mqtt'] {
  return { username: `terminal:${id}`, clientId: `terminal-${id}` };
}

export function toTerminalView(row: TerminalRow, presence: TerminalPresence): TerminalView {
  return {
    id: row.id,
    name: row.name,
    location: row.location,
    mqtt: terminalMqttIdentity(row.id),
    presence: presence.presenceOf(row.id),
    createdAt: row.created_at.toISOString(),
    createdBy: row.created_by,
    secretRotatedAt: row.secret_rotated_at.toISOString(),
  };
}
