import { Router } from 'express';
import { requireRole, validate } from '@mercado/common';
import type { ProductsDeps } from '../domain/deps.js';
import {
  changeProduct,
  createProduct,
  deactivateProduct,
  getProduct,
  listProducts,
} from '../domain/catalog.js';
import { actorOf, signedInActor } from './actor.js';
import { cachePolicy, sendCacheable } from './http-cache.js';
import { methodNotAllowed } from './method-not-allowed.js';
import {
  createProductBody,
  listProductsQuery,
  productIdParams,
  updateProductBody,
} from './schemas.js';

export function productsRoutes(deps: ProductsDeps): Router {
  const router = Router();

  router.get('/', async function listRoute(req, res) {
    const query = validate(listProductsQuery, req.query, 'query');
    const page = await listProducts(deps, {
      ...(query.q !== undefined ? { q: query.q } : {}),
      ...(query.category ? { category: query.category } : {}),
      ...(query.seller ? { sellerId: query.seller } : {}),
      ...(query.currency ? { currency: query.currency } : {}),
      ...(query.minPrice !== undefined ? { minPrice: query.minPrice } : {}),
      ...(query.maxPrice !== undefined ? { maxPrice: query.maxPrice } : {}),
      ...(query.sort ? { sort: query.sort } : {}),
      ...(query.cursor ? { cursor: query.cursor } : {}),
      limit: query.limit,
    });
    sendCacheable(req, res, page, cachePolicy.publicCatalog);
  });

  router.get('/:id', async function detailRoute(req, res) {
    const { id } = validate(productIdParams, req.params, 'params');
    const { product, shared } = await getProduct(deps, id, actorOf(req.identity));
    sendCacheable(
      req,
      res,
      product,
      shared ? cachePolicy.publicCatalog : cachePolicy.callerSpecific,
    );
  });

  router.post('/', requireRole('seller', 'admin'), async function createRoute(req, res) {
    const body = validate(createProductBody, req.body);
    const product = await createProduct(deps, signedInActor(req.identity), body);
    res.setHeader('Cache-Control', cachePolicy.noStore);
    res.setHeader('Location', `/api/products/${product.id}`);
    res.status(201).json(product);
  });

  router.patch('/:id', requireRole('seller', 'admin'), async function changeRoute(req, res) {
    const { id } = validate(productIdParams, req.params, 'params');
    const body = validate(updateProductBody, req.body);
    const product = await changeProduct(deps, signedInActor(req.identity), id, body);
    res.setHeader('Cache-Control', cachePolicy.noStore);
    res.json(product);
  });

  router.delete('/:id', requireRole('seller', 'admin'), async function deactivateRoute(req, res) {
    const { id } = validate(productIdParams, req.params, 'params');
    await deactivateProduct(deps, signedInActor(req.identity), id);
    res.status(204).end();
  });

  router.all('/', methodNotAllowed(['GET', 'HEAD', 'POST']));
  router.all('/:id', methodNotAllowed(['GET', 'HEAD', 'PATCH', 'DELETE']));

  return router;
}
