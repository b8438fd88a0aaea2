import { ApiRouter, answerFromCache, sendCacheableJson } from '@mercado/common/http';
import type { ProductsDeps } from '../domain/deps.js';
import {
  changeProduct,
  createProduct,
  deactivateProduct,
  getProduct,
  listProducts,
} from '../domain/catalog.js';
import { actorOf, signedInActor } from './actor.js';
import { cachePolicy } from './http-cache.js';
import {
  createProductBody,
  listProductsQuery,
  productIdParams,
  productPage,
  productView,
  updateProductBody,
} from './schemas.js';

const notModified = { description: 'The copy named in If-None-Match is still current' };

export function productsRoutes(deps: ProductsDeps): ApiRouter {
  const before = deps.answers ? [answerFromCache(deps.answers)] : [];
  return new ApiRouter('/api/products', 'products')
    .route(
      {
        method: 'get',
        path: '/',
        summary: 'List and search active products, one keyset page at a time',
        description:
          '`q` matches each word as a prefix; sorted by relevance when searching, newest first ' +
          'otherwise. Cacheable for 30 s, with an ETag. `status=inactive` or `all` lists a ' +
          'seller’s products that are not on sale too: only for that seller (`seller` their own ' +
          'id; 401 anonymous, 403 anyone else) and admins, and never cached for others.',
        access: 'public',
        query: listProductsQuery,
        responses: {
          200: { description: 'A page of products', schema: productPage },
          304: notModified,
        },
        before,
      },
      async function listRoute({ query, identity }, req, res) {
        const page = await listProducts(
          deps,
          {
            status: query.status,
            ...(query.q !== undefined ? { q: query.q } : {}),
            ...(query.category ? { category: query.category } : {}),
            ...(query.seller ? { sellerId: query.seller } : {}),
            ...(query.currency ? { currency: query.currency } : {}),
            ...(query.minPrice !== undefined ? { minPrice: query.minPrice } : {}),
            ...(query.maxPrice !== undefined ? { maxPrice: query.maxPrice } : {}),
            ...(query.sort ? { sort: query.sort } : {}),
            ...(query.cursor ? { cursor: query.cursor } : {}),
            limit: query.limit,
          },
          actorOf(identity),
        );
        sendCacheableJson(
          req,
          res,
          page,
          query.status === 'active' ? cachePolicy.publicCatalog : cachePolicy.callerSpecific,
        );
      },
    )
    .route(
      {
        method: 'get',
        path: '/:id',
        summary: 'One product',
        description:
          'An inactive product is visible only to its seller and to admins (404 for anyone ' +
          'else). Sent with an ETag.',
        access: 'public',
        params: productIdParams,
        responses: {
          200: { description: 'The product', schema: productView },
          304: notModified,
        },
        before,
      },
      async function detailRoute({ params, identity }, req, res) {
        const { product, shared } = await getProduct(deps, params.id, actorOf(identity));
        sendCacheableJson(
          req,
          res,
          product,
          shared ? cachePolicy.publicCatalog : cachePolicy.callerSpecific,
        );
      },
    )
    .route(
      {
        method: 'post',
        path: '/',
        summary: 'List a new product',
        description: 'Sellers list for themselves; an admin may give `sellerId` to list for one.',
        access: ['seller', 'admin'],
        body: createProductBody,
        responses: { 201: { description: 'The new product', schema: productView } },
      },
      async function createRoute({ identity, body }, _req, res) {
        const product = await createProduct(deps, signedInActor(identity), body);
        res.setHeader('Cache-Control', cachePolicy.noStore);
        res.setHeader('Location', `/api/products/${product.id}`);
        res.status(201).json(product);
      },
    )
    .route(
      {
        method: 'patch',
        path: '/:id',
        summary: 'Change a product',
        description: 'Only its seller or an admin may.',
        access: ['seller', 'admin'],
        params: productIdParams,
        body: updateProductBody,
        responses: { 200: { description: 'The updated product', schema: productView } },
      },
      async function changeRoute({ identity, params, body }, _req, res) {
        const product = await changeProduct(deps, signedInActor(identity), params.id, body);
        res.setHeader('Cache-Control', cachePolicy.noStore);
        res.json(product);
      },
    )
    .route(
      {
        method: 'delete',
        path: '/:id',
        summary: 'Take a product off the catalog',
        description:
          'The product is deactivated, never deleted (orders refer to it); doing it twice is ' +
          'harmless. Only its seller or an admin may.',
        access: ['seller', 'admin'],
        params: productIdParams,
        responses: { 204: { description: 'Deactivated' } },
      },
      async function deactivateRoute({ identity, params }, _req, res) {
        await deactivateProduct(deps, signedInActor(identity), params.id);
        res.status(204).end();
      },
    );
}
