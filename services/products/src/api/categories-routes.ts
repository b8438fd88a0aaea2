import { Router } from 'express';
import { requireRole, validate } from '@mercado/common';
import type { ProductsDeps } from '../domain/deps.js';
import {
  changeCategory,
  createCategory,
  getCategoryTree,
  removeCategory,
} from '../domain/categories.js';
import { cachePolicy, sendCacheable } from './http-cache.js';
import { methodNotAllowed } from './method-not-allowed.js';
import { categoryIdParams, createCategoryBody, updateCategoryBody } from './schemas.js';

/** The category tree: anyone reads it; only admins shape it (it shapes the whole shop). */
export function categoriesRoutes(deps: ProductsDeps): Router {
  const router = Router();

  router.get('/', async function treeRoute(req, res) {
    sendCacheable(req, res, await getCategoryTree(deps), cachePolicy.publicCategories);
  });

  router.post('/', requireRole('admin'), async function createRoute(req, res) {
    const body = validate(createCategoryBody, req.body);
    const category = await createCategory(deps, body);
    res.setHeader('Cache-Control', cachePolicy.noStore);
    res.setHeader('Location', `/api/categories/${category.id}`);
    res.status(201).json(category);
  });

  router.patch('/:id', requireRole('admin'), async function changeRoute(req, res) {
    const { id } = validate(categoryIdParams, req.params, 'params');
    const body = validate(updateCategoryBody, req.body);
    res.setHeader('Cache-Control', cachePolicy.noStore);
    res.json(await changeCategory(deps, id, body));
  });

  router.delete('/:id', requireRole('admin'), async function deleteRoute(req, res) {
    const { id } = validate(categoryIdParams, req.params, 'params');
    await removeCategory(deps, id);
    res.status(204).end();
  });

  router.all('/', methodNotAllowed(['GET', 'HEAD', 'POST']));
  router.all('/:id', methodNotAllowed(['PATCH', 'DELETE']));

  return router;
}
