import { baseServiceSettings, databaseSettings, loadConfig, setting } from '@mercado/common';

export const productsSettings = {
  ...baseServiceSettings,
  ...databaseSettings,
  /** Verifies the gateway's and other services' identity headers; also keys list cursors. */
  INTERNAL_SECRET: setting.secret(32),
};

export type ProductsConfig = ReturnType<typeof loadProductsConfig>;

export function loadProductsConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(productsSettings, env);
}
