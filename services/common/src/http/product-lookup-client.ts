import {
  productLookupPath,
  productLookupResponseSchema,
  type ProductLookupItem,
  type ProductLookupRequest,
} from '../contract/product-lookup.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../log/logger.js';
import { createServiceClient } from './service-client.js';

export interface ProductLookupClientOptions {
  /** The calling service, as the products service's lookup route admits it. */
  caller: string;
  baseUrls: readonly string[];
  internalSecret: string;
  timeoutMs?: number;
  log: Logger;
}

export interface ProductLookupClient {
  /** The products found, in the order asked; unknown ids are left out, inactive ones are not. */
  findProducts(ids: readonly string[]): Promise<ProductLookupItem[]>;
}

/**
 * The products service's internal lookup (`@mercado/common/contract`'s product lookup), called as
 * `caller` with a signed service identity. Anything but a well-formed 200 means the caller cannot
 * tell what a product is: 503 `service_unavailable` (and the log says why), never a guess.
 */
export function createProductLookupClient({
  caller,
  baseUrls,
  internalSecret,
  timeoutMs,
  log,
}: ProductLookupClientOptions): ProductLookupClient {
  const client = createServiceClient({
    caller,
    baseUrls,
    internalSecret,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  return {
    async findProducts(ids: readonly string[]): Promise<ProductLookupItem[]> {
      if (ids.length === 0) return [];
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
