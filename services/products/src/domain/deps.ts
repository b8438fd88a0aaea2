import type { AnswerCache } from '@mercado/common/http';
import type { Knex } from '@mercado/common/db';
import type { Logger } from '@mercado/common/log';

/** What the catalog use cases need, passed in (never imported as singletons). */
export interface ProductsDeps {
  db: Knex;
  log: Logger;
  /** Signs list cursors, so a tampered one is told apart from one we issued. */
  cursorKey: Buffer;
  /** Rendered public reads, kept until the catalog changes; absent when turned off. */
  answers?: AnswerCache;
  /** Called once a write has committed: this replica's kept answers must not outlive it. */
  catalogChanged(): void;
}

/** The signed-in caller of a write: who they are and whether they are an admin. */
export interface Actor {
  userId: string;
  isAdmin: boolean;
}
