import type { Express } from 'express';
import {
  buildServiceApp,
  startAnswerCache,
  type ApiRouter,
  type ServiceAnswers,
} from '@mercado/common/http';
import { type Knex } from '@mercado/common/db';
import { type Logger } from '@mercado/common/log';
import { type Metrics } from '@mercado/common/metrics';
import { productsErrors } from './errors.js';
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
  /** Rendered public reads, kept until the catalog changes; without it, nothing is kept. */
  answers?: ServiceAnswers;
  isShuttingDown?: () => boolean;
}

/** The channel sql/products' triggers notify on every committed catalog change. */
export const catalogChangesChannel = 'catalog_changed';

/** The answer cache of public catalog reads, when it is on (stop it with `close()`). */
export function startCatalogAnswers({
  config,
  log,
  metrics,
}: Pick<ProductsAppDeps, 'config' | 'log' | 'metrics'>): ServiceAnswers | undefined {
  return startAnswerCache({
    config,
    log,
    registry: metrics.registry,
    channel: catalogChangesChannel,
    name: 'mercado-products-changes',
  });
}

export function productsDeps({ config, log, db, answers }: ProductsAppDeps): ProductsDeps {
  return {
    db,
    log,
    cursorKey: deriveCursorKey(config.INTERNAL_SECRET),
    ...(answers ? { answers: answers.cache } : {}),
    catalogChanged: () => answers?.feed.changed(),
  };
}

/** Every operation of the products service, by router (their specs are what the app enforces). */
export function productsApis(domain: ProductsDeps): ApiRouter[] {
  return [productsRoutes(domain), categoriesRoutes(domain), internalRoutes(domain)];
}

/** Builds the products (catalog) service's HTTP app (it does not listen). */
export function buildProductsApp(deps: ProductsAppDeps): Express {
  return buildServiceApp({
    ...deps,
    name: 'products',
    title: 'Mercado products',
    apis: productsApis(productsDeps(deps)),
    errors: productsErrors,
  });
}
