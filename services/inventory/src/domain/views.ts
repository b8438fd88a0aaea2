import type { StockRow } from '../data/stock-repository.js';
import type {
  ReservationLineRow,
  ReservationRow,
  ReservationStatus,
} from '../data/reservations-repository.js';

export interface StockLevelView {
  region: string;
  onHand: number;
  reserved: number;
  available: number;
}

/** A product's stock in every configured region. */
export interface ProductStockView {
  productId: string;
  lowStockThreshold: number;
  regions: StockLevelView[];
}

/** One (product, region) row, as a stock change returns it and the low-stock listing shows it. */
export interface StockRowView extends StockLevelView {
  productId: string;
  lowStockThreshold: number;
  updatedAt: string;
}

export interface ReservationView {
  orderId: string;
  region: string;
  status: ReservationStatus;
  expiresAt: string;
  createdAt: string;
  updatedAt: string;
  lines: Array<{ productId: string; quantity: number }>;
}

export function toStockLevelView(region: string, row: StockRow | undefined): StockLevelView {
  return {
    region,
    onHand: row?.on_hand ?? 0,
    reserved: row?.reserved ?? 0,
    available: row?.available ?? 0,
  };
}

export function toStockRowView(row: StockRow, lowStockThreshold: number): StockRowView {
  return {
    productId: row.product_id,
    ...toStockLevelView(row.region, row),
    lowStockThreshold,
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toReservationView(
  row: ReservationRow,
  lines: readonly ReservationLineRow[],
): ReservationView {
  return {
    orderId: row.order_id,
    region: row.region,
    status: row.status,
    expiresAt: row.expires_at.toISOString(),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    lines: lines
      .filter((line) => line.order_id === row.order_id)
      .map((line) => ({ productId: line.product_id, quantity: line.quantity }))
      .sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0)),
  };
}
