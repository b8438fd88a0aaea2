import type { ProductLookupItem } from '@mercado/common/contract';
import type {
  ProductLookupRow,
  ProductRow,
  ProductSummaryRow,
} from '../data/products-repository.js';

/** A product as its detail page shows it. */
export interface ProductView {
  id: string;
  sellerId: string;
  sku: string;
  name: string;
  description: string;
  priceMinor: number;
  currency: string;
  categoryId: string | null;
  imageUrls: string[];
  attributes: Record<string, unknown>;
  active: boolean;
  createdAt: string;
  updatedAt: string;
}

/** A product in a listing: the detail without its description and attributes. */
export type ProductSummary = Omit<ProductView, 'description' | 'attributes'>;

/** What other services need to price an order line or check ownership (the shared contract). */
export type ProductLookup = ProductLookupItem;

export function toProductSummary(row: ProductSummaryRow): ProductSummary {
  return {
    id: row.id,
    sellerId: row.seller_id,
    sku: row.sku,
    name: row.name,
    priceMinor: row.price_minor,
    currency: row.currency,
    categoryId: row.category_id,
    imageUrls: row.image_urls,
    active: row.active,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toProductView(row: ProductRow): ProductView {
  return {
    id: row.id,
    sellerId: row.seller_id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    priceMinor: row.price_minor,
    currency: row.currency,
    categoryId: row.category_id,
    imageUrls: row.image_urls,
    attributes: row.attributes,
    active: row.active,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toProductLookup(row: ProductLookupRow): ProductLookup {
  return {
    id: row.id,
    sellerId: row.seller_id,
    name: row.name,
    sku: row.sku,
    priceMinor: row.price_minor,
    currency: row.currency,
    active: row.active,
  };
}
