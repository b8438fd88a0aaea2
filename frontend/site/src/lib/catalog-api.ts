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
