import type { Knex } from '@mercado/common/db';

export interface ProductRow {
  id: string;
  seller_id: string;
  sku: string;
  name: string;
  description: string;
  price_minor: number;
  currency: string;
  category_id: string | null;
  image_urls: string[];
  attributes: Record<string, unknown>;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

/** What a listing shows: no description or attributes, which only the detail needs. */
export type ProductSummaryRow = Omit<ProductRow, 'description' | 'attributes'> & {
  /** Set when the listing was a text search. */
  rank?: number;
};

export type ProductLookupRow = Pick<
  ProductRow,
  'id' | 'seller_id' | 'name' | 'sku' | 'price_minor' | 'currency' | 'active'
>;

// Never `select *`: the generated tsvector is large and no caller needs it.
const detailColumns = [
  'id',
  'seller_id',
  'sku',
  'name',
  'description',
  'price_minor',
  'currency',
  'category_id',
  'image_urls',
  'attributes',
  'active',
  'created_at',
  'updated_at',
] as const;

const summaryColumns = [
  'p.id',
  'p.seller_id',
  'p.sku',
  'p.name',
  'p.price_minor',
  'p.currency',
  'p.category_id',
  'p.image_urls',
  'p.active',
  'p.created_at',
  'p.updated_at',
] as const;

export interface NewProduct {
  sellerId: string;
  sku: string;
  name: string;
  description: string;
  priceMinor: number;
  currency: string;
  categoryId: string | null;
  imageUrls: string[];
  attributes: Record<string, unknown>;
  active: boolean;
}

export async function insertProduct(db: Knex, product: NewProduct): Promise<ProductRow> {
  const [row] = await db('products')
    .insert({
      seller_id: product.sellerId,
      sku: product.sku,
      name: product.name,
      description: product.description,
      price_minor: product.priceMinor,
      currency: product.currency,
      category_id: product.categoryId,
      image_urls: product.imageUrls,
      // pg would send a JS object as JSON anyway, but an array would become a Postgres array.
      attributes: JSON.stringify(product.attributes),
      active: product.active,
    })
    .returning(detailColumns);
  return row as ProductRow;
}

export async function findProductById(db: Knex, id: string): Promise<ProductRow | undefined> {
  return db<ProductRow>('products')
    .select(...detailColumns)
    .where({ id })
    .first();
}

export async function lockProductById(
  trx: Knex.Transaction,
  id: string,
): Promise<ProductRow | undefined> {
  return trx<ProductRow>('products')
    .select(...detailColumns)
    .where({ id })
    .forUpdate()
    .first();
}

export type ProductChanges = Partial<Omit<NewProduct, 'sellerId'>>;

export async function updateProduct(
  db: Knex,
  id: string,
  changes: ProductChanges,
): Promise<ProductRow | undefined> {
  const patch: Record<string, unknown> = { updated_at: db.fn.now() };
  if (changes.sku !== undefined) patch.sku = changes.sku;
  if (changes.name !== undefined) patch.name = changes.name;
  if (changes.description !== undefined) patch.description = changes.description;
  if (changes.priceMinor !== undefined) patch.price_minor = changes.priceMinor;
  if (changes.currency !== undefined) patch.currency = changes.currency;
  if (changes.categoryId !== undefined) patch.category_id = changes.categoryId;
  if (changes.imageUrls !== undefined) patch.image_urls = changes.imageUrls;
  if (changes.attributes !== undefined) patch.attributes = JSON.stringify(changes.attributes);
  if (changes.active !== undefined) patch.active = changes.active;
  const [row] = await db('products').where({ id }).update(patch).returning(detailColumns);
  return row as ProductRow | undefined;
}

/** Whether any product, active or not, is filed under the category. */
export async function categoryHasProducts(db: Knex, categoryId: string): Promise<boolean> {
  const row = await db('products').select('id').where({ category_id: categoryId }).first();
  return row !== undefined;
}

export async function findProductsByIds(db: Knex, ids: string[]): Promise<ProductLookupRow[]> {
  return db<ProductRow>('products')
    .select('id', 'seller_id', 'name', 'sku', 'price_minor', 'currency', 'active')
    .whereRaw('id = any(?::uuid[])', [ids]);
}

export type ProductSort = 'relevance' | 'price_asc' | 'price_desc' | 'newest';

/** The last row of the previous page, in the terms of its sort. */
export type ListPosition =
  | { sort: 'newest'; createdAt: Date; id: string }
  | { sort: 'price_asc' | 'price_desc'; priceMinor: number; id: string }
  | { sort: 'relevance'; rank: number; createdAt: Date; id: string };

/** Which products a listing takes: the public catalog is `active`; the rest is their seller's. */
export type ProductStatusFilter = 'active' | 'inactive' | 'all';

export interface ProductListQuery {
  status: ProductStatusFilter;
  /** A tsquery in to_tsquery syntax, built by the caller from plain words (never user syntax). */
  tsquery?: string;
  category?: { id: string } | { slug: string };
  sellerId?: string;
  currency?: string;
  minPrice?: number;
  maxPrice?: number;
  sort: ProductSort;
  after?: ListPosition;
  limit: number;
}

/**
 * Products (active ones for the catalog), filtered and sorted, one keyset page: a single
 * statement, whatever the filters. Every order ends on the primary key, so it is total and pages
 * neither repeat nor skip rows.
 */
export async function listProductSummaries(
  db: Knex,
  query: ProductListQuery,
): Promise<ProductSummaryRow[]> {
  // The text query is a function in the FROM list, so it is parsed once and each row's rank can be
  // read by name in the select list and the order.
  const builder = db
    .from(
      query.tsquery
        ? db.raw(`products as p cross join to_tsquery('simple', ?) as tsq(query)`, [query.tsquery])
        : 'products as p',
    )
    .select(summaryColumns)
    .limit(query.limit);
  if (query.status === 'active') builder.whereRaw('p.active');
  if (query.status === 'inactive') builder.whereRaw('not p.active');
  if (query.tsquery) {
    builder.select(db.raw('ts_rank(p.search, tsq.query) as rank'));
    builder.whereRaw('p.search @@ tsq.query');
  }

  if (query.category) {
    const start =
      'id' in query.category
        ? db.raw('select id from categories where id = ?::uuid', [query.category.id])
        : db.raw('select id from categories where slug = ?', [query.category.slug]);
    // `union` (not `union all`) stops on a cycle, should one ever slip in.
    builder.withRecursive(
      'subtree',
      ['id'],
      db.raw('? union select c.id from categories c join subtree s on c.parent_id = s.id', [start]),
    );
    builder.whereIn('p.category_id', db.select('id').from('subtree'));
  }
  if (query.sellerId) builder.where('p.seller_id', query.sellerId);
  if (query.currency) builder.where('p.currency', query.currency);
  if (query.minPrice !== undefined) builder.where('p.price_minor', '>=', query.minPrice);
  if (query.maxPrice !== undefined) builder.where('p.price_minor', '<=', query.maxPrice);

  const after = query.after;
  switch (query.sort) {
    case 'newest':
      if (after?.sort === 'newest') {
        builder.whereRaw('(p.created_at, p.id) < (?::timestamptz, ?::uuid)', [
          after.createdAt,
          after.id,
        ]);
      }
      builder.orderBy([
        { column: 'p.created_at', order: 'desc' },
        { column: 'p.id', order: 'desc' },
      ]);
      break;
    case 'price_asc':
      if (after?.sort === 'price_asc') {
        builder.whereRaw('(p.price_minor, p.id) > (?::bigint, ?::uuid)', [
          after.priceMinor,
          after.id,
        ]);
      }
      builder.orderBy([
        { column: 'p.price_minor', order: 'asc' },
        { column: 'p.id', order: 'asc' },
      ]);
      break;
    case 'price_desc':
      if (after?.sort === 'price_desc') {
        builder.whereRaw('(p.price_minor, p.id) < (?::bigint, ?::uuid)', [
          after.priceMinor,
          after.id,
        ]);
      }
      builder.orderBy([
        { column: 'p.price_minor', order: 'desc' },
        { column: 'p.id', order: 'desc' },
      ]);
      break;
    case 'relevance':
      if (!query.tsquery) throw new Error('relevance order needs a text query');
      if (after?.sort === 'relevance') {
        // ts_rank is real (float4); the cursor holds its shortest exact decimal form, so the cast
        // gives back the very same value.
        builder.whereRaw(
          '(ts_rank(p.search, tsq.query), p.created_at, p.id) < (?::real, ?::timestamptz, ?::uuid)',
          [after.rank, after.createdAt, after.id],
        );
      }
      builder.orderByRaw('rank desc, p.created_at desc, p.id desc');
      break;
  }
  return builder as Promise<ProductSummaryRow[]>;
}
