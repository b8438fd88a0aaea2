import type { Knex, Logger } from '@mercado/common';

/** What the catalog use cases need, passed in (never imported as singletons). */
export interface ProductsDeps {
  db: Knex;
  log: Logger;
  /** Signs list cursors, so a tampered one is told apart from one we issued. */
  cursorKey: Buffer;
}

/** The signed-in caller of a write: who they are and whether they are an admin. */
export interface Actor {
  userId: string;
  isAdmin: boolean;
}
