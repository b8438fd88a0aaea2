import { z } from 'zod';
import { AppError } from '@mercado/common/errors';
import { createServiceClient } from '@mercado/common/http';
import { type Logger } from '@mercado/common/log';
import type { CatalogProduct, ProductCatalog } from '../domain/deps.js';

export const productsLookupPath = '/internal/products/lookup';

const lookupResponse = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      sellerId: z.string(),
      name: z.string(),
      sku: z.string(),
      priceMinor: z.number(),
      currency: z.string(),
      active: z.boolean(),
    }),
  ),
});

export interface ProductCatalogOptions {
  baseUrls: readonly string[];
  internalSecret: string;
  timeoutMs?: number;
  log: Logger;
}

/**
 * The products service's internal lookup, called as service `inventory` with a signed identity.
 * Anything but a well-formed 200 means inventory cannot tell who owns a product: the caller gets
 * 503 `service_unavailable` (and the log says why), never a guess.
 */
export function createProductCatalog({
  baseUrls,
  internalSecret,
  timeoutMs,
  log,
}: ProductCatalogOptions): ProductCatalog {
  const client = createServiceClient({
    caller: 'inventory',
    baseUrls,
    internalSecret,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  return {
    async findProducts(ids: readonly string[]): Promise<CatalogProduct[]> {
      const response = await client.request<unknown>('POST', productsLookupPath, { ids });
      const parsed = response.status === 200 ? lookupResponse.safeParse(response.body) : undefined;
      if (!parsed?.success) {
        const code = (response.body as { code?: unknown } | undefined)?.code;
        log.error(
          { status: response.status, code: typeof code === 'string' ? code : undefined },
          'products lookup failed',
        );
        throw new AppError('service_unavailable', {
          detail: 'The product catalog could not be consulted',
        });
      }
      return parsed.data.items;
    },
  };
}
