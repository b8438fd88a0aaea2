import { AppError, isForeignKeyViolation, isUniqueViolation } from '@mercado/common/errors';
import { withTransaction, type Knex } from '@mercado/common/db';
import { productsError } from '../errors.js';
import type { Actor, ProductsDeps } from './deps.js';
import { decodeCursor, encodeCursor } from './list-cursor.js';
import { toPrefixTsquery } from './search-terms.js';
import {
  toProductLookup,
  toProductSummary,
  toProductView,
  type ProductLookup,
  type ProductSummary,
  type ProductView,
} from './product-view.js';
import {
  findProductById,
  findProductsByIds,
  insertProduct,
  listProductSummaries,
  lockProductById,
  updateProduct,
  type ListPosition,
  type NewProduct,
  type ProductChanges,
  type ProductRow,
  type ProductSort,
  type ProductStatusFilter,
  type ProductSummaryRow,
} from '../data/products-repository.js';

export type CategoryFilter = { id: string } | { slug: string };

export interface ProductSearch {
  /** `active` (the catalog, anyone's) unless the caller lists their own (or is an admin). */
  status?: ProductStatusFilter;
  q?: string;
  /** The category and everything below it. */
  category?: CategoryFilter;
  sellerId?: string;
  currency?: string;
  minPrice?: number;
  maxPrice?: number;
  sort?: ProductSort;
  cursor?: string;
  limit: number;
}

export interface ProductPage {
  items: ProductSummary[];
  nextCursor: string | null;
}

function positionOf(sort: ProductSort, row: ProductSummaryRow): ListPosition {
  switch (sort) {
    case 'newest':
      return { sort, createdAt: row.created_at, id: row.id };
    case 'price_asc':
    case 'price_desc':
      return { sort, priceMinor: row.price_minor, id: row.id };
    case 'relevance':
      return { sort, rank: row.rank ?? 0, createdAt: row.created_at, id: row.id };
  }
}

/**
 * Who may list products other than active ones: an admin, or a seller their own (`sellerId`
 * theirs). Anyone else is refused (401 when anonymous, 403 otherwise), never shown a
 * silently different listing.
 */
function assertMayListInactive(viewer: Actor | undefined, sellerId: string | undefined): void {
  if (!viewer) {
    throw new AppError('unauthorized', { detail: 'Sign in to list products that are not on sale' });
  }
  if (viewer.isAdmin || (sellerId !== undefined && sellerId === viewer.userId)) return;
  throw new AppError('forbidden', {
    detail: 'Only a seller lists their own products that are not on sale (`seller` = their id)',
  });
}

/**
 * The public catalog listing: active products matching the words of `q` (each word as a prefix),
 * inside a category subtree, a price range, a seller, a currency; sorted by relevance (the
 * default for a search), price or newest; one keyset page per call.
 */
export async function listProducts(
  deps: ProductsDeps,
  search: ProductSearch,
  viewer?: Actor,
): Promise<ProductPage> {
  const status = search.status ?? 'active';
  if (status !== 'active') assertMayListInactive(viewer, search.sellerId);
  const tsquery = search.q === undefined ? undefined : toPrefixTsquery(search.q);
  const sort: ProductSort =
    search.sort === undefined || search.sort === 'relevance'
      ? tsquery
        ? 'relevance'
        : 'newest'
      : search.sort;
  const fingerprint = JSON.stringify([
    ...(status === 'active' ? [] : [status]),
    tsquery ?? null,
    search.category ?? null,
    search.sellerId ?? null,
    search.currency ?? null,
    search.minPrice ?? null,
    search.maxPrice ?? null,
  ]);
  const after = search.cursor
    ? decodeCursor(deps.cursorKey, search.cursor, sort, fingerprint)
    : undefined;
  // Text with no letter or digit in it (`%_\`, `.*(`) can match no product.
  if (search.q !== undefined && tsquery === undefined) return { items: [], nextCursor: null };

  const rows = await listProductSummaries(deps.db, {
    status,
    ...(tsquery ? { tsquery } : {}),
    ...(search.category ? { category: search.category } : {}),
    ...(search.sellerId ? { sellerId: search.sellerId } : {}),
    ...(search.currency ? { currency: search.currency } : {}),
    ...(search.minPrice !== undefined ? { minPrice: search.minPrice } : {}),
    ...(search.maxPrice !== undefined ? { maxPrice: search.maxPrice } : {}),
    ...(after ? { after } : {}),
    sort,
    limit: search.limit + 1,
  });
  const page = rows.slice(0, search.limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toProductSummary),
    nextCursor:
      rows.length > search.limit && last
        ? encodeCursor(deps.cursorKey, positionOf(sort, last), fingerprint)
        : null,
  };
}

function canManage(actor: Actor | undefined, product: ProductRow): boolean {
  return actor !== undefined && (actor.isAdmin || actor.userId === product.seller_id);
}

/**
 * One product. An inactive product is visible only to its seller and to admins; to anyone else
 * it does not exist. `shared` tells whether every caller gets this same answer (so shared caches
 * may keep it).
 */
export async function getProduct(
  deps: ProductsDeps,
  id: string,
  viewer: Actor | undefined,
): Promise<{ product: ProductView; shared: boolean }> {
  const row = await findProductById(deps.db, id);
  if (!row || (!row.active && !canManage(viewer, row))) throw new AppError('not_found');
  return { product: toProductView(row), shared: row.active };
}

export interface ProductInput {
  /** Admins may list for a seller; sellers list for themselves. */
  sellerId?: string;
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

/** Database refusals a client can cause, as the catalog's own codes. */
function translateWriteError(error: unknown): unknown {
  if (isUniqueViolation(error, 'products_seller_sku_key')) return productsError('sku_taken');
  if (isForeignKeyViolation(error, 'products_category_id_fkey')) {
    return productsError('unknown_category', {
      errors: [{ path: 'body.categoryId', message: 'is not a category', code: 'unknown_category' }],
    });
  }
  return error;
}

/** A seller (or an admin on a seller's behalf) lists a new product. */
export async function createProduct(
  deps: ProductsDeps,
  actor: Actor,
  input: ProductInput,
): Promise<ProductView> {
  const sellerId = input.sellerId ?? actor.userId;
  if (sellerId !== actor.userId && !actor.isAdmin) {
    throw new AppError('forbidden', {
      detail: 'Only an admin may list a product for another seller',
    });
  }
  const product: NewProduct = { ...input, sellerId };
  let row: ProductRow;
  try {
    row = await insertProduct(deps.db, product);
  } catch (error) {
    throw translateWriteError(error);
  } finally {
    // Also after a failure: a commit whose answer was lost may still have happened.
    deps.catalogChanged();
  }
  deps.log.info(
    { productId: row.id, sellerId, actorId: actor.userId, outcome: 'created' },
    'product created',
  );
  return toProductView(row);
}

/**
 * Loads the product for a change by `actor` and checks they may make it. Someone else's inactive
 * product is reported as missing, as a read would; an active one as not theirs.
 */
async function lockOwnProduct(
  trx: Knex.Transaction,
  actor: Actor,
  id: string,
): Promise<ProductRow> {
  const current = await lockProductById(trx, id);
  if (!current) throw new AppError('not_found');
  if (!canManage(actor, current)) {
    throw productsError(current.active ? 'not_owner' : 'not_found');
  }
  return current;
}

/** The owner or an admin changes a product; a change that fails leaves it as it was. */
export async function changeProduct(
  deps: ProductsDeps,
  actor: Actor,
  id: string,
  changes: ProductChanges,
): Promise<ProductView> {
  let row: ProductRow | undefined;
  try {
    row = await withTransaction(deps.db, async function applyChanges(trx) {
      await lockOwnProduct(trx, actor, id);
      return updateProduct(trx, id, changes);
    });
  } catch (error) {
    throw translateWriteError(error);
  } finally {
    deps.catalogChanged();
  }
  if (!row) throw new AppError('not_found');
  deps.log.info(
    { productId: id, actorId: actor.userId, outcome: 'changed', fields: Object.keys(changes) },
    'product changed',
  );
  return toProductView(row);
}

/**
 * Takes a product off the catalog. Orders and carts keep referring to it, so it is deactivated,
 * never deleted; doing it twice is harmless.
 */
export async function deactivateProduct(
  deps: ProductsDeps,
  actor: Actor,
  id: string,
): Promise<void> {
  let changed: boolean;
  try {
    changed = await withTransaction(deps.db, async function deactivate(trx) {
      const current = await lockOwnProduct(trx, actor, id);
      if (!current.active) return false;
      await updateProduct(trx, id, { active: false });
      return true;
    });
  } finally {
    deps.catalogChanged();
  }
  if (changed) {
    deps.log.info(
      { productId: id, actorId: actor.userId, outcome: 'deactivated' },
      'product deactivated',
    );
  }
}

/**
 * For other services: the current seller, name, SKU, price and state of each existing product
 * among `ids`, in the order asked (orders prices lines with it; inventory checks ownership).
 */
export async function lookupProducts(
  deps: ProductsDeps,
  ids: string[],
): Promise<{ items: ProductLookup[] }> {
  const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
  const rows = await findProductsByIds(deps.db, unique);
  const byId = new Map(rows.map((row) => [row.id, row]));
  return {
    items: unique.flatMap((id) => {
      const row = byId.get(id);
      return row ? [toProductLookup(row)] : [];
    }),
  };
}
