import { ApiRouter, validate } from '@mercado/common/http';
import { requireService } from '@mercado/common/identity';
import type { ProductsDeps } from '../domain/deps.js';
import { lookupProducts } from '../domain/catalog.js';
import { cachePolicy } from './http-cache.js';
import { methodNotAllowed } from './method-not-allowed.js';
import { lookupBody, productLookupResult } from './schemas.js';

/**
 * Routes for other Mercado services only (a signed service identity). The gateway routes only
 * `/api/*`, so these are never reachable from outside (and the OpenAPI document leaves them out).
 */
export function internalRoutes(deps: ProductsDeps): ApiRouter {
  const api = new ApiRouter('/internal/products', 'internal').route(
    {
      method: 'post',
      path: '/lookup',
      summary: 'The current seller, name, SKU, price and state of products, by id',
      description:
        'Unknown ids are left out; the others, inactive ones included, come in the order asked.',
      access: 'service',
      body: lookupBody,
      responses: { 200: { description: 'The products found', schema: productLookupResult } },
    },
    requireService(),
    async function lookupRoute(req, res) {
      const { ids } = validate(lookupBody, req.body);
      res.setHeader('Cache-Control', cachePolicy.noStore);
      res.json(await lookupProducts(deps, ids));
    },
  );

  api.router.all('/lookup', methodNotAllowed(['POST']));

  return api;
}
