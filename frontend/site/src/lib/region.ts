import { productStock } from './catalog-api.js';

/**
 * The shopper's region: where availability is shown and the order ships. Kept in the browser;
 * the regions are the shop's configured ones, as inventory lists them for any product.
 */
const key = 'mercado.region';
let known: Promise<string[]> | undefined;

export function currentRegion(): string | undefined {
  return localStorage.getItem(key) ?? undefined;
}

export function chooseRegion(region: string): void {
  localStorage.setItem(key, region);
  window.dispatchEvent(new CustomEvent('mercado:region', { detail: region }));
}

/** The shop's regions, learnt from the stock of `productId` (every product lists them all). */
export function regionsFrom(productId: string): Promise<string[]> {
  known ??= productStock(productId).then(
    (stock) => stock.regions.map((level) => level.region),
    (error: unknown) => {
      known = undefined;
      throw error;
    },
  );
  return known;
}
