import { ApiRouter, answerFromCache, sendCacheableJson, validate } from '@mercado/common/http';
import { requireRole } from '@mercado/common/identity';
import type { ProductsDeps } from '../domain/deps.js';
import {
  changeCategory,
  createCategory,
  getCategoryTree,
  removeCategory,
} from '../domain/categories.js';
import { cachePolicy } from './http-cache.js';
import { methodNotAllowed } from './method-not-allowed.js';
import {
  categoryIdParams,
  categoryTree,
  categoryView,
  createCategoryBody,
  updateCategoryBody,
} from './schemas.js';

/** The category tree: anyone reads it; only admins shape it (it shapes the whole shop). */
export function categoriesRoutes(deps: ProductsDeps): ApiRouter {
  const cached = deps.answers ? [answerFromCache(deps.answers)] : [];
  const api = new ApiRouter('/api/categories', 'categories')
    .route(
      {
        method: 'get',
        path: '/',
        summary: 'Every category as a tree, each level sorted by name',
        description: 'Cacheable for 60 s, with an ETag.',
        access: 'public',
        responses: {
          200: { description: 'The category tree', schema: categoryTree },
          304: { description: 'The copy named in If-None-Match is still current' },
        },
      },
      ...cached,
      async function treeRoute(req, res) {
        sendCacheableJson(req, res, await getCategoryTree(deps), cachePolicy.publicCategories);
      },
    )
    .route(
      {
        method: 'post',
        path: '/',
        summary: 'Create a category',
        access: ['admin'],
        body: createCategoryBody,
        responses: { 201: { description: 'The new category', schema: categoryView } },
      },
      requireRole('admin'),
      async function createRoute(req, res) {
        const body = validate(createCategoryBody, req.body);
        const category = await createCategory(deps, body);
        res.setHeader('Cache-Control', cachePolicy.noStore);
        res.setHeader('Location', `/api/categories/${category.id}`);
        res.status(201).json(category);
      },
    )
    .route(
      {
        method: 'patch',
        path: '/:id',
        summary: 'Rename or move a category',
        description: 'A move under itself or one of its own subcategories is refused.',
        access: ['admin'],
        params: categoryIdParams,
        body: updateCategoryBody,
        responses: { 200: { description: 'The updated category', schema: categoryView } },
      },
      requireRole('admin'),
      async function changeRoute(req, res) {
        const { id } = validate(categoryIdParams, req.params, 'params');
        const body = validate(updateCategoryBody, req.body);
        res.setHeader('Cache-Control', cachePolicy.noStore);
        res.json(await changeCategory(deps, id, body));
      },
    )
    .route(
      {
        method: 'delete',
        path: '/:id',
        summary: 'Delete an empty category',
        description: 'A category with products (even inactive ones) or subcategories stays.',
        access: ['admin'],
        params: categoryIdParams,
        responses: { 204: { description: 'Deleted' } },
      },
      requireRole('admin'),
      async function deleteRoute(req, res) {
        const { id } = validate(categoryIdParams, req.params, 'params');
        await removeCategory(deps, id);
        res.status(204).end();
      },
    );

  api.router.all('/', methodNotAllowed(['GET', 'HEAD', 'POST']));
  api.router.all('/:id', methodNotAllowed(['PATCH', 'DELETE']));

  return api;
}
