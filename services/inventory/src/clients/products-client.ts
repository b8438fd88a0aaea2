import { createProductLookupClient, type ProductLookupClientOptions } from '@mercado/common/http';
import type { ProductCatalog } from '../domain/deps.js';

export type ProductCatalogOptions = Omit<ProductLookupClientOptions, 'caller'>;

/** The products service's internal lookup, called as service `inventory` (see the kit's client). */
export function createProductCatalog(options: ProductCatalogOptions): ProductCatalog {
  return createProductLookupClient({ caller: 'inventory', ...options });
}
