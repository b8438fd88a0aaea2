import { get, query } from './api.js';

/** The catalog's shapes, as the API's OpenAPI document describes them. */
export interface ProductSummary {
  id: string;
  sellerId: string;
  sku: string;
  name: string;
  priceMinor: number;
  currency: string;
  categoryId: string | null;
  imageUrls: string[];
  active: boolean;
}

export interface Product extends ProductSummary {
  description: string;
  attributes: Record<string, string | number | boolean | string[]>;
}

export interface ProductPage {
  items: ProductSummary[];
  nextCursor: string | null;
}

export interface CategoryNode {
  id: string;
  slug: string;
  name: string;
  children: CategoryNode[];
}

export interface StockLevel {
  region: string;
  onHand: number;
  reserved: number;
  available: number;
}

export interface ProductStock {
  productId: string;
  lowStockThreshold: number;
  regions: StockLevel[];
}

export type ProductSort = 'relevance' | 'price_asc' | 'price_desc' | 'newest';

export interface CatalogQuery {
  q?: string;
  category?: string;
  minPrice?: number;
  maxPrice?: number;
  sort?: ProductSort;
  cursor?: string;
  limit?: number;
}

export const listProducts = (catalog: CatalogQuery, signal?: AbortSignal) =>
  get<ProductPage>(`/products${query({ ...catalog })}`, signal);

export const getProduct = (id: string) => get<Product>(`/products/${encodeURIComponent(id)}`);

export const categoryTree = () => get<{ items: CategoryNode[] }>('/categories');

export const productStock = (id: string) =>
  get<ProductStock>(`/inventory/${encodeURIComponent(id)}`);

/** A (product, region) whose available stock is below its threshold: the back office's list. */
export interface LowStockRow {
  productId: string;
  sellerId: string;
  region: string;
  onHand: number;
  reserved: number;
  available: number;
  lowStockThreshold: number;
  updatedAt: string;
}

/** The low-stock list: a seller's own rows, or every seller's for an admin. */
export const lowStock = (cursor?: string) =>
  get<{ items: LowStockRow[]; nextCursor: string | null }>(
    `/inventory/low-stock${query({ limit: 50, cursor })}`,
  );
