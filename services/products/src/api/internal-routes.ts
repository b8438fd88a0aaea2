import { Router } from 'express';
import { requireService, validate } from '@mercado/common';
import type { ProductsDeps } from '../domain/deps.js';
import { lookupProducts } from '../domain/catalog.js';
import { cachePolicy } from './http-cache.js';
import { methodNotAllowed } from './method-not-allowed.js';
import { lookupBody } from './schemas.js';

/**
 * Routes for other Mercado services only (a signed service identity). The gateway routes only
 * `/api/*`, so these are never reachable from outside.
 */
export function internalRoutes(deps: ProductsDeps): Router {
  const router = Router();

  router.post('/lookup', requireService(), async function lookupRoute(req, res) {
    const { ids } = validate(lookupBody, req.body);
    res.setHeader('Cache-Control', cachePolicy.noStore);
    res.json(await lookupProducts(deps, ids));
  });

  router.all('/lookup', methodNotAllowed(['POST']));

  return router;
}
