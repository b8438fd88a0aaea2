import {
  productLookupPath,
  productLookupRequestSchema,
  productLookupResponseSchema,
} from '@mercado/common/contract';
import { ApiRouter } from '@mercado/common/http';
import type { ProductsDeps } from '../domain/deps.js';
import { lookupProducts } from '../domain/catalog.js';
import { cachePolicy } from './http-cache.js';

const internalBase = '/internal/products';

/** Inventory asks who owns a product; orders will ask for current prices at checkout. */
export const lookupCallers = ['inventory', 'orders'] as const;

/**
 * Routes for other Mercado services only (a signed service identity). The gateway routes only
 * `/api/*`, so these are never reachable from outside (and the OpenAPI document leaves them out).
 */
export function internalRoutes(deps: ProductsDeps): ApiRouter {
  return new ApiRouter(internalBase, 'internal').route(
    {
      method: 'post',
      path: productLookupPath.slice(internalBase.length),
      summary: 'The current seller, name, SKU, price and state of products, by id',
      description:
        'Unknown ids are left out; the others, inactive ones included, come in the order asked.',
      access: { services: lookupCallers },
      body: productLookupRequestSchema,
      responses: {
        200: { description: 'The products found', schema: productLookupResponseSchema },
      },
    },
    async function lookupRoute({ body }, _req, res) {
      res.setHeader('Cache-Control', cachePolicy.noStore);
      res.json(await lookupProducts(deps, body.ids));
    },
  );
}
