import type { ProductLookupItem } from '@mercado/common/contract';
import type { AnswerCache, CursorCodec } from '@mercado/common/http';
import type { Knex } from '@mercado/common/db';
import type { Logger } from '@mercado/common/log';

/** A product as the products service describes it to other services (the shared contract). */
export type CatalogProduct = ProductLookupItem;

/** The one thing inventory asks the catalog: which of these products exist, and whose are they. */
export interface ProductCatalog {
  findProducts(ids: readonly string[]): Promise<CatalogProduct[]>;
}

/** What the inventory use cases need, passed in (never imported as singletons). */
export interface InventoryDeps {
  db: Knex;
  log: Logger;
  catalog: ProductCatalog;
  /** The regions this shop keeps stock in (REGIONS). */
  regions: readonly string[];
  /** Signs the low-stock listing's keyset cursors. */
  cursors: CursorCodec;
  /** A reservation's lifetime when the caller gives none. */
  reservationTtlSeconds: number;
  /** Rendered stock answers, kept until the product's stock changes; absent when off. */
  answers?: AnswerCache;
  /** Called after a write that may have changed these products' stock (see stock-writes.ts). */
  stockChanged(productIds: Iterable<string>): void;
}
