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

/** One of a terminal's transactions, as payments announced it. */
export interface TerminalTransactionView {
  /** The event's id. */
  id: string;
  kind: 'payment' | 'reversal';
  outcome: 'approved' | 'declined' | 'reversed';
  amountMinor: number;
  currency: string;
  /** The processor's transaction (a reversal's own); null for a declined payment. */
  transactionId: string | null;
  /** The order paid (or refunded), for an online order's pay code; null for a walk-in amount. */
  orderId: string | null;
  cardBrand: string | null;
  cardLast4: string | null;
  /** Why it was declined, or the reversal's reason. */
  reason: string | null;
  at: string;
}

/** A terminal's totals in one currency over today, in TERMINALS_TIME_ZONE. */
export interface CurrencyTotals {
  currency: string;
  approvedCount: number;
  approvedMinor: number;
  declinedCount: number;
  reversedCount: number;
  reversedMinor: number;
  /** Approved less reversed. */
  netMinor: number;
}

/** What a terminal did lately: its newest transactions, and today's totals by currency. */
export interface TerminalActivity {
  /** The newest first, at most `lastTransactionsShown`. */
  lastTransactions: TerminalTransactionView[];
  /** One entry per currency it saw today, in currency order; empty on a quiet day. */
  today: CurrencyTotals[];
}

/** A terminal as the API shows it: never its secret or the secret's hash. */
export interface TerminalView {
  id: string;
  name: string;
  location: string | null;
  /** What the terminal connects to the broker with (its password is the secret). */
  mqtt: { username: string; clientId: string };
  presence: Presence;
  lastTransactions: TerminalTransactionView[];
  today: CurrencyTotals[];
  createdAt: string;
  createdBy: string;
  secretRotatedAt: string;
}

/** The broker's naming rules for a terminal (broker/src/hooks/authenticate.ts, `identify`, `clientIdAllowed`). */
export function terminalMqttIdentity(id: string): TerminalView['mqtt'] {
  return { username: `terminal:${id}`, clientId: `terminal-${id}` };
}

export function toTerminalView(
  row: TerminalRow,
  presence: TerminalPresence,
  activity: TerminalActivity,
): TerminalView {
  return {
    id: row.id,
    name: row.name,
    location: row.location,
    mqtt: terminalMqttIdentity(row.id),
    presence: presence.presenceOf(row.id),
    lastTransactions: activity.lastTransactions,
    today: activity.today,
    createdAt: row.created_at.toISOString(),
    createdBy: row.created_by,
    secretRotatedAt: row.secret_rotated_at.toISOString(),
  };
}
