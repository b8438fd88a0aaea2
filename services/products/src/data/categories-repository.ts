import type { Knex } from '@mercado/common/db';

export interface CategoryRow {
  id: string;
  parent_id: string | null;
  slug: string;
  name: string;
  created_at: Date;
}

const columns = ['id', 'parent_id', 'slug', 'name', 'created_at'] as const;

export async function listCategories(db: Knex): Promise<CategoryRow[]> {
  return db<CategoryRow>('categories').select(...columns);
}

export async function findCategoryById(db: Knex, id: string): Promise<CategoryRow | undefined> {
  return db<CategoryRow>('categories')
    .select(...columns)
    .where({ id })
    .first();
}

export async function lockCategoryById(
  trx: Knex.Transaction,
  id: string,
): Promise<CategoryRow | undefined> {
  return trx<CategoryRow>('categories')
    .select(...columns)
    .where({ id })
    .forUpdate()
    .first();
}

export interface NewCategory {
  slug: string;
  name: string;
  parentId: string | null;
}

export async function insertCategory(db: Knex, category: NewCategory): Promise<CategoryRow> {
  const [row] = await db('categories')
    .insert({ slug: category.slug, name: category.name, parent_id: category.parentId })
    .returning(columns);
  return row as CategoryRow;
}

export type CategoryChanges = Partial<NewCategory>;

export async function updateCategory(
  db: Knex,
  id: string,
  changes: CategoryChanges,
): Promise<CategoryRow | undefined> {
  const patch: Record<string, unknown> = {};
  if (changes.slug !== undefined) patch.slug = changes.slug;
  if (changes.name !== undefined) patch.name = changes.name;
  if (changes.parentId !== undefined) patch.parent_id = changes.parentId;
  if (Object.keys(patch).length === 0) return findCategoryById(db, id);
  const [row] = await db('categories').where({ id }).update(patch).returning(columns);
  return row as CategoryRow | undefined;
}

export async function deleteCategory(db: Knex, id: string): Promise<boolean> {
  const deleted = await db('categories').where({ id }).delete();
  return deleted > 0;
}

export async function categoryHasChildren(db: Knex, id: string): Promise<boolean> {
  const row = await db('categories').select('id').where({ parent_id: id }).first();
  return row !== undefined;
}

/** Whether `candidate` is `ancestorId` itself or lies anywhere below it. */
export async function isInSubtree(
  db: Knex,
  ancestorId: string,
  candidate: string,
): Promise<boolean> {
  const result = await db.raw<{ rows: Array<{ found: boolean }> }>(
    `with recursive subtree(id) as (
       select ?::uuid
       union
       select c.id from categories c join subtree s on c.parent_id = s.id
     )
     select exists (select 1 from subtree where id = ?::uuid) as found`,
    [ancestorId, candidate],
  );
  return result.rows[0]?.found === true;
}

/**
 * Serialises changes to the shape of the tree (moves), so two concurrent moves cannot together
 * make a cycle that neither would make alone. Held until the transaction ends.
 */
export async function lockCategoryTree(trx: Knex.Transaction): Promise<void> {
  await trx.raw(`select pg_advisory_xact_lock(hashtext('mercado.products.category_tree'))`);
}
