import type { Express } from 'express';
import { buildServiceApp, type Knex, type Logger, type Metrics } from '@mercado/common';
import { categoriesRoutes } from './api/categories-routes.js';
import { internalRoutes } from './api/internal-routes.js';
import { productsRoutes } from './api/products-routes.js';
import type { ProductsDeps } from './domain/deps.js';
import { deriveCursorKey } from './domain/list-cursor.js';
import type { ProductsConfig } from './config.js';

export { loadProductsConfig, productsSettings, type ProductsConfig } from './config.js';
export type { ProductsDeps } from './domain/deps.js';
export type { ProductLookup, ProductSummary, ProductView } from './domain/product-view.js';
export type { CategoryNode, CategoryView } from './domain/categories.js';
export type { ProductPage } from './domain/catalog.js';

export const productsMigrationsDir = new URL('../../../sql/products', import.meta.url);

export interface ProductsAppDeps {
  config: ProductsConfig;
  log: Logger;
  metrics: Metrics;
  db: Knex;
  isShuttingDown?: () => boolean;
}

export function productsDeps({ config, log, db }: ProductsAppDeps): ProductsDeps {
  return { db, log, cursorKey: deriveCursorKey(config.INTERNAL_SECRET) };
}

/** Builds the products (catalog) service's HTTP app (it does not listen). */
export function buildProductsApp(deps: ProductsAppDeps): Express {
  const domain = productsDeps(deps);
  return buildServiceApp({
    ...deps,
    name: 'products',
    title: 'Mercado products',
    apis: [productsRoutes(domain), categoriesRoutes(domain), internalRoutes(domain)],
  });
}
