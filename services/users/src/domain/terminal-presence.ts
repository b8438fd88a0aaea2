import type { Presence, TerminalPresence } from './terminal-view.js';

/** Terminals' presence as heard from the broker, kept in this replica's memory. */
export interface PresenceBook extends TerminalPresence {
  /** What a terminal last said of itself. */
  record(terminalId: string, presence: Presence): void;
  /** Forgets everything heard: the retained statuses about to arrive are the whole truth. */
  forgetAll(): void;
}

const unknown: Presence = { status: 'unknown', since: null };

/**
 * A presence book. While this replica cannot hear the broker (`listening` false) every presence
 * is `unknown`: a last will published meanwhile would be missed, and a stale `online` would
 * mislead an admin.
 */
export function createPresenceBook(listening: () => boolean): PresenceBook {
  const heard = new Map<string, Presence>();
  return {
    presenceOf(terminalId) {
      if (!listening()) return unknown;
      return heard.get(terminalId) ?? unknown;
    },
    record(terminalId, presence) {
      heard.set(terminalId, presence);
    },
    forgetAll() {
      heard.clear();
    },
  };
}
