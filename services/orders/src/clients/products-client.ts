import { createProductLookupClient, type ProductLookupClientOptions } from '@mercado/common/http';
import type { ProductCatalog } from '../domain/deps.js';

export type ProductCatalogOptions = Omit<ProductLookupClientOptions, 'caller'>;

/**
 * The products service's internal lookup, called as service `orders`: an unreachable catalog is
 * 503 `service_unavailable`, never a guessed price (see the kit's client).
 */
export function createProductCatalog(options: ProductCatalogOptions): ProductCatalog {
  return createProductLookupClient({ caller: 'orders', ...options });
}
