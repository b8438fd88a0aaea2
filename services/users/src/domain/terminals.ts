import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { isUniqueViolation } from '@mercado/common/errors';
import { withTransaction } from '@mercado/common/db';
import { usersError } from '../errors.js';
import type { UsersDeps } from './deps.js';
import { toTerminalView, type TerminalView } from './terminal-view.js';
import { terminalsActivity } from './terminal-activity.js';
import {
  findLiveTerminal,
  insertTerminal,
  listLiveTerminals,
  replaceTerminalSecret,
  softDeleteTerminal,
} from '../data/terminals-repository.js';
import { announceTerminalRevoked } from './revocations.js';

/** A terminal's credentials as shown to the admin: the secret appears here and nowhere else. */
export interface TerminalCredentials {
  terminal: TerminalView;
  secret: string;
}

export interface TerminalPage {
  items: TerminalView[];
  nextCursor: string | null;
}

/** 32 random bytes (256 bits), base64url: 43 characters a terminal can keep in its config. */
function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** 64 random bits: a collision with any other id is not a practical concern, but is handled. */
function generatedId(): string {
  return `term-${randomBytes(8).toString('hex')}`;
}

/**
 * An admin registers a terminal, under the id they chose or a generated one. The secret is
 * returned this once; only its hash is kept. An id that was ever used, by a deleted terminal too,
 * is refused (409 `terminal_id_taken`).
 */
export async function registerTerminal(
  deps: UsersDeps,
  actorId: string,
  input: { name: string; id?: string | undefined; location?: string | undefined },
): Promise<TerminalCredentials> {
  const secret = newSecret();
  // A generated id gets fresh tries on a collision; a chosen one is the admin's to change.
  for (let attempt = 1; ; attempt++) {
    const id = input.id ?? generatedId();
    try {
      const row = await insertTerminal(deps.db, {
        id,
        name: input.name,
        location: input.location ?? null,
        secretHash: hashSecret(secret),
        createdBy: actorId,
      });
      deps.log.info({ actorId, terminalId: id, outcome: 'terminal_registered' }, 'terminal added');
      // Nothing to read: it could not pay before it existed (the broker admits registered
      // terminals only), and an id is never reused.
      const activity = { lastTransactions: [], today: [] };
      return { terminal: toTerminalView(row, deps.presence, activity), secret };
    } catch (error) {
      if (!isUniqueViolation(error, 'terminals_pkey')) throw error;
      if (input.id !== undefined || attempt >= 3) throw usersError('terminal_id_taken');
    }
  }
}

/** A page ends at the id of its last terminal; the next page starts after it. */
const cursorKey = z.tuple([z.string()]);

/**
 * Live terminals in id order, each with its presence, its last transactions and today's totals
 * (two queries for the whole page).
 */
export async function listTerminals(
  deps: UsersDeps,
  query: { limit: number; cursor?: string | undefined },
): Promise<TerminalPage> {
  const after = query.cursor ? deps.terminalCursors.decode(query.cursor, cursorKey)[0] : undefined;
  const rows = await listLiveTerminals(deps.db, {
    limit: query.limit + 1,
    ...(after !== undefined ? { after } : {}),
  });
  const page = rows.slice(0, query.limit);
  const activity = await terminalsActivity(
    deps,
    page.map((row) => row.id),
  );
  const items = page.map((row) => toTerminalView(row, deps.presence, activity(row.id)));
  const last = items[items.length - 1];
  return {
    items,
    nextCursor: rows.length > query.limit && last ? deps.terminalCursors.encode([last.id]) : null,
  };
}

/**
 * Gives a terminal a new secret, returned this once; the old one stops verifying at once, and the
 * change is announced (`users/revocations`): the broker forgets its cached answer and closes the
 * connections made with the old secret.
 */
export async function rotateTerminalSecret(
  deps: UsersDeps,
  actorId: string,
  terminalId: string,
): Promise<TerminalCredentials> {
  const secret = newSecret();
  // Read before the change: once the new secret is committed, nothing may fail before it is shown.
  const activity = await terminalsActivity(deps, [terminalId]);
  const row = await withTransaction(deps.db, async (trx) => {
    const replaced = await replaceTerminalSecret(trx, terminalId, hashSecret(secret));
    if (replaced) await announceTerminalRevoked(trx, terminalId, 'secret_rotated');
    return replaced;
  });
  if (!row) throw usersError('terminal_not_found');
  deps.log.info({ actorId, terminalId, outcome: 'terminal_secret_rotated' }, 'secret rotated');
  return { terminal: toTerminalView(row, deps.presence, activity(terminalId)), secret };
}

/**
 * Deletes a terminal for good: its id is never reused, its secret stops verifying, and the
 * deletion is announced so the broker closes its connection.
 */
export async function deleteTerminal(
  deps: UsersDeps,
  actorId: string,
  terminalId: string,
): Promise<void> {
  const deleted = await withTransaction(deps.db, async (trx) => {
    const found = await softDeleteTerminal(trx, terminalId, actorId);
    if (found) await announceTerminalRevoked(trx, terminalId, 'deleted');
    return found;
  });
  if (!deleted) throw usersError('terminal_not_found');
  deps.log.info({ actorId, terminalId, outcome: 'terminal_deleted' }, 'terminal deleted');
}

/**
 * The broker's question: is this the secret of this live terminal? Hashes are compared in constant
 * time. An unknown id answers sooner than a known one, which tells nothing: ids are usernames, not
 * secrets.
 */
export async function verifyTerminalSecret(
  deps: UsersDeps,
  terminalId: string,
  secret: string,
): Promise<boolean> {
  const row = await findLiveTerminal(deps.db, terminalId);
  const valid = row !== undefined && timingSafeEqual(row.secret_hash, hashSecret(secret));
  if (!valid) {
    deps.log.info({ terminalId, outcome: 'terminal_secret_refused' }, 'terminal not verified');
  }
  return valid;
}
