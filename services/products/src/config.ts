import { baseServiceSettings, databaseSettings, loadConfig, setting } from '@mercado/common/config';

export const productsSettings = {
  ...baseServiceSettings,
  ...databaseSettings,
  /** Verifies the gateway's and other services' identity headers; also keys list cursors. */
  INTERNAL_SECRET: setting.secret(32),
  /** Rendered public reads kept in memory until the catalog changes; 0 turns the cache off. */
  ANSWER_CACHE_ENTRIES: setting.int(2000, 0, 1_000_000),
  ANSWER_CACHE_MAX_BYTES: setting.int(32 * 1024 * 1024, 0),
};

export type ProductsConfig = ReturnType<typeof loadProductsConfig>;

export function loadProductsConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(productsSettings, env);
}
