import { ApiRouter, answerFromCache, sendCacheableJson } from '@mercado/common/http';
import type { ProductsDeps } from '../domain/deps.js';
import {
  changeCategory,
  createCategory,
  getCategoryTree,
  removeCategory,
} from '../domain/categories.js';
import { cachePolicy } from './http-cache.js';
import {
  categoryIdParams,
  categoryTree,
  categoryView,
  createCategoryBody,
  updateCategoryBody,
} from './schemas.js';

/** The category tree: anyone reads it; only admins shape it (it shapes the whole shop). */
export function categoriesRoutes(deps: ProductsDeps): ApiRouter {
  const before = deps.answers ? [answerFromCache(deps.answers)] : [];
  return new ApiRouter('/api/categories', 'categories')
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
        before,
      },
      async function treeRoute(_input, req, res) {
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
      async function createRoute({ body }, _req, res) {
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
      async function changeRoute({ params, body }, _req, res) {
        res.setHeader('Cache-Control', cachePolicy.noStore);
        res.json(await changeCategory(deps, params.id, body));
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
      async function deleteRoute({ params }, _req, res) {
        await removeCategory(deps, params.id);
        res.status(204).end();
      },
    );
}
