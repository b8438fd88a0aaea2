import type { ProductLookupItem } from '@mercado/common/contract';
import type { CursorCodec } from '@mercado/common/http';
import type { Knex, SessionLocks } from '@mercado/common/db';
import type { Logger } from '@mercado/common/log';

/** A product as the products service describes it to other services (the shared contract). */
export type CatalogProduct = ProductLookupItem;

/** What orders asks the catalog: these products' seller, name, price and state. */
export interface ProductCatalog {
  findProducts(ids: readonly string[]): Promise<CatalogProduct[]>;
}

export interface ReservationLine {
  productId: string;
  quantity: number;
}

export interface Reservation {
  orderId: string;
  region: string;
  status: 'active' | 'committed' | 'released' | 'expired';
  expiresAt: string;
  lines: ReservationLine[];
}

/** The outcome of asking inventory to hold stock: held, or which lines are short. */
export type ReserveOutcome =
  | { ok: true; reservation: Reservation }
  | { ok: false; code: 'insufficient_stock'; shortages: Array<{ index: number; message: string }> };

/** What orders asks inventory: stock to show, and the order's reservation. */
export interface Inventory {
  /** Units available to sell of each product in `region` (0 for one never stocked). */
  availableIn(region: string, productIds: readonly string[]): Promise<Map<string, number>>;
  reserve(request: {
    orderId: string;
    region: string;
    lines: ReservationLine[];
    ttlSeconds: number;
  }): Promise<ReserveOutcome>;
  /** Paid: the units leave stock. False when the reservation can no longer be committed. */
  commit(orderId: string): Promise<boolean>;
  /** Cancelled or expired: the units are available again (also when none was held). */
  release(orderId: string): Promise<void>;
  /**
   * Refunded: these units of the paid order go back on hand, once per `restockId`. False when
   * inventory refuses them for good (the reservation is not committed, or more than it took).
   */
  restock(orderId: string, restockId: string, lines: ReservationLine[]): Promise<boolean>;
}

export interface OrdersSettings {
  regions: readonly string[];
  cartMaxLines: number;
  paymentWindowSeconds: number;
  expiryGraceSeconds: number;
}

/** What the orders use cases need, passed in (never imported as singletons). */
export interface OrdersDeps {
  db: Knex;
  log: Logger;
  catalog: ProductCatalog;
  inventory: Inventory;
  settings: OrdersSettings;
  /** Signs the order listing's keyset cursors. */
  cursors: CursorCodec;
  /**
   * This replica's lock session: the Idempotency-Keys its requests hold, released by Postgres
   * when the replica dies (see idempotency.ts).
   */
  keyLocks: SessionLocks;
}
