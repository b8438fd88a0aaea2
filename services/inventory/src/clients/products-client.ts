import {
  productLookupPath,
  productLookupResponseSchema,
  type ProductLookupRequest,
} from '@mercado/common/contract';
import { AppError } from '@mercado/common/errors';
import { createServiceClient } from '@mercado/common/http';
import { type Logger } from '@mercado/common/log';
import type { CatalogProduct, ProductCatalog } from '../domain/deps.js';

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
      const request: ProductLookupRequest = { ids: [...ids] };
      const response = await client.request<unknown>('POST', productLookupPath, request);
      const parsed =
        response.status === 200 ? productLookupResponseSchema.safeParse(response.body) : undefined;
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
