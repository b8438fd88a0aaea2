import type { Express } from 'express';
import { AnswerCache, buildServiceApp, type ApiRouter } from '@mercado/common/http';
import { listenForChanges, type ChangeFeed, type Knex } from '@mercado/common/db';
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
  /** Catalog changes from the database; without it, nothing is kept between reads. */
  changes?: ChangeFeed;
  isShuttingDown?: () => boolean;
}

/** The channel sql/products' triggers notify on every committed catalog change. */
export const catalogChangesChannel = 'catalog_changed';

/** Listens for catalog changes, when the answer cache is on (stop it with `close()`). */
export function listenForCatalogChanges({
  config,
  log,
}: Pick<ProductsAppDeps, 'config' | 'log'>): ChangeFeed | undefined {
  if (config.ANSWER_CACHE_ENTRIES === 0) return undefined;
  return listenForChanges({
    url: config.DATABASE_URL,
    channel: catalogChangesChannel,
    log,
    name: 'mercado-products-changes',
  });
}

export function productsDeps({ config, log, db, metrics, changes }: ProductsAppDeps): ProductsDeps {
  const answers =
    changes && config.ANSWER_CACHE_ENTRIES > 0
      ? new AnswerCache({
          feed: changes,
          maxEntries: config.ANSWER_CACHE_ENTRIES,
          maxBytes: config.ANSWER_CACHE_MAX_BYTES,
          registry: metrics.registry,
        })
      : undefined;
  return {
    db,
    log,
    cursorKey: deriveCursorKey(config.INTERNAL_SECRET),
    ...(answers ? { answers } : {}),
    catalogChanged: () => changes?.changed(),
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
