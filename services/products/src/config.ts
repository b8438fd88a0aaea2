import {
  answerCacheSettings,
  baseServiceSettings,
  databaseSettings,
  loadConfig,
  setting,
} from '@mercado/common/config';

export const productsSettings = {
  ...baseServiceSettings,
  ...databaseSettings,
  /** Verifies the gateway's and other services' identity headers; also keys list cursors. */
  INTERNAL_SECRET: setting.secret(32),
  /** Rendered public reads kept in memory until the catalog changes; 0 turns the cache off. */
  ...answerCacheSettings(2000, 32 * 1024 * 1024),
};

export type ProductsConfig = ReturnType<typeof loadProductsConfig>;

export function loadProductsConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(productsSettings, env);
}
