import { AppError, isForeignKeyViolation, isUniqueViolation } from '@mercado/common/errors';
import { withTransaction } from '@mercado/common/db';
import { productsError } from '../errors.js';
import type { ProductsDeps } from './deps.js';
import {
  categoryHasChildren,
  deleteCategory,
  insertCategory,
  isInSubtree,
  listCategories,
  lockCategoryById,
  lockCategoryTree,
  updateCategory,
  type CategoryChanges,
  type CategoryRow,
  type NewCategory,
} from '../data/categories-repository.js';
import { categoryHasProducts } from '../data/products-repository.js';

export interface CategoryView {
  id: string;
  slug: string;
  name: string;
  parentId: string | null;
  createdAt: string;
}

export interface CategoryNode {
  id: string;
  slug: string;
  name: string;
  children: CategoryNode[];
}

function toCategoryView(row: CategoryRow): CategoryView {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    parentId: row.parent_id,
    createdAt: row.created_at.toISOString(),
  };
}

// Names are shown to people in Spanish and English: compare as a reader would (accents and case
// do not reorder "Électronique" after "Zapatos"), with the slug breaking ties.
const byName = new Intl.Collator('es', { sensitivity: 'base', numeric: true });

/** Every category as a tree, each level sorted by name. One query; the tree is small. */
export async function getCategoryTree(deps: ProductsDeps): Promise<{ items: CategoryNode[] }> {
  const rows = await listCategories(deps.db);
  rows.sort((a, b) => byName.compare(a.name, b.name) || (a.slug < b.slug ? -1 : 1));
  const nodes = new Map<string, CategoryNode>();
  for (const row of rows)
    nodes.set(row.id, { id: row.id, slug: row.slug, name: row.name, children: [] });
  const roots: CategoryNode[] = [];
  for (const row of rows) {
    const node = nodes.get(row.id)!;
    const parent = row.parent_id === null ? undefined : nodes.get(row.parent_id);
    (parent ? parent.children : roots).push(node);
  }
  return { items: roots };
}

function translateCategoryError(error: unknown): unknown {
  if (isUniqueViolation(error, 'categories_slug_key')) {
    return productsError('slug_taken', {
      errors: [{ path: 'body.slug', message: 'is already used', code: 'slug_taken' }],
    });
  }
  if (isForeignKeyViolation(error, 'categories_parent_id_fkey')) {
    return productsError('unknown_category', {
      errors: [{ path: 'body.parentId', message: 'is not a category', code: 'unknown_category' }],
    });
  }
  return error;
}

export async function createCategory(
  deps: ProductsDeps,
  input: NewCategory,
): Promise<CategoryView> {
  let row: CategoryRow;
  try {
    row = await insertCategory(deps.db, input);
  } catch (error) {
    throw translateCategoryError(error);
  } finally {
    // Also after a failure: a commit whose answer was lost may still have happened.
    deps.catalogChanged();
  }
  deps.log.info({ categoryId: row.id, outcome: 'created' }, 'category created');
  return toCategoryView(row);
}

/**
 * Renames or moves a category. A move under itself or one of its own subcategories would cut a
 * branch off the tree, so it is refused; moves are serialised so two of them cannot do it together.
 */
export async function changeCategory(
  deps: ProductsDeps,
  id: string,
  changes: CategoryChanges,
): Promise<CategoryView> {
  let row: CategoryRow | undefined;
  try {
    row = await withTransaction(deps.db, async function applyCategoryChanges(trx) {
      if (typeof changes.parentId === 'string') await lockCategoryTree(trx);
      const current = await lockCategoryById(trx, id);
      if (!current) throw new AppError('not_found');
      if (typeof changes.parentId === 'string' && (await isInSubtree(trx, id, changes.parentId))) {
        throw productsError('category_cycle', {
          errors: [
            {
              path: 'body.parentId',
              message: 'is this category or one below it',
              code: 'category_cycle',
            },
          ],
        });
      }
      return updateCategory(trx, id, changes);
    });
  } catch (error) {
    throw translateCategoryError(error);
  } finally {
    deps.catalogChanged();
  }
  if (!row) throw new AppError('not_found');
  deps.log.info(
    { categoryId: id, outcome: 'changed', fields: Object.keys(changes) },
    'category changed',
  );
  return toCategoryView(row);
}

/** Deletes an empty category: one with products (even inactive ones) or subcategories stays. */
export async function removeCategory(deps: ProductsDeps, id: string): Promise<void> {
  try {
    await withTransaction(deps.db, async function deleteEmptyCategory(trx) {
      // FOR UPDATE conflicts with the key-share lock a new product or subcategory takes on it.
      const current = await lockCategoryById(trx, id);
      if (!current) throw new AppError('not_found');
      if ((await categoryHasChildren(trx, id)) || (await categoryHasProducts(trx, id))) {
        throw productsError('category_in_use');
      }
      await deleteCategory(trx, id);
    });
  } catch (error) {
    if (
      isForeignKeyViolation(error, 'products_category_id_fkey') ||
      isForeignKeyViolation(error, 'categories_parent_id_fkey')
    ) {
      throw productsError('category_in_use');
    }
    throw error;
  } finally {
    deps.catalogChanged();
  }
  deps.log.info({ categoryId: id, outcome: 'deleted' }, 'category deleted');
}
