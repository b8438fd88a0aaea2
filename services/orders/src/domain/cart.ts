import { createHash, randomBytes } from 'node:crypto';
import { withTransaction, type Knex } from '@mercado/common/db';
import type { FieldError } from '@mercado/common/errors';
import { ordersError } from '../errors.js';
import {
  deleteCart,
  deleteCartLine,
  findCart,
  findCartLines,
  insertGuestCart,
  lockCart,
  lockOrCreateUserCart,
  updateCart,
  upsertCartLine,
  type CartKey,
  type CartLineRow,
  type CartRow,
} from '../data/carts-repository.js';
import type { CatalogProduct, OrdersDeps } from './deps.js';
import { assertKnownRegion } from './regions.js';

/** Who is asking for a cart: a signed-in user, a guest with their cart token, or both. */
export interface CartCaller {
  userId?: string | undefined;
  /** The Cart-Token header, already checked to have a token's form. */
  token?: string | undefined;
}

/** Why a line cannot be checked out as it stands (the same codes the cart's writes refuse with). */
export type LineProblem =
  'product_not_found' | 'product_inactive' | 'currency_mismatch' | 'insufficient_stock';

export interface CartLineView {
  productId: string;
  name: string | null;
  sku: string | null;
  quantity: number;
  /** The catalog's price now (the last one seen when the catalog no longer has the product). */
  unitPriceMinor: number;
  lineTotalMinor: number;
  /** Units available now in the cart's region. */
  available: number;
  problem: LineProblem | null;
}

/** What a merge of a guest cart could not carry over as it was. */
export interface CartNotice {
  productId: string;
  code: 'quantity_capped' | LineProblem | 'cart_full';
  message: string;
}

export interface CartView {
  region: string;
  /** The cart's one currency; null while it is empty. */
  currency: string | null;
  lines: CartLineView[];
  itemCount: number;
  totalMinor: number;
  /** True when the cart has lines and none has a problem. */
  checkoutReady: boolean;
  /** What merging the guest cart sent with this call changed (empty otherwise). */
  notices: CartNotice[];
}

/** A cart token: 32 random bytes, base64url (43 characters). */
export const cartTokenPattern = /^[A-Za-z0-9_-]{43}$/;

export function hashCartToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function newCartToken(): string {
  return randomBytes(32).toString('base64url');
}

function keyOf(caller: CartCaller): CartKey | undefined {
  if (caller.userId) return { userId: caller.userId };
  if (caller.token) return { tokenHash: hashCartToken(caller.token) };
  return undefined;
}

function checkSellable(product: CatalogProduct | undefined, productId: string): CatalogProduct {
  if (!product) {
    throw ordersError('product_not_found', { detail: `The catalog has no product ${productId}` });
  }
  if (!product.active) {
    throw ordersError('product_inactive', { detail: `Product ${productId} is not on sale` });
  }
  return product;
}

function checkCurrency(cart: CartRow, product: CatalogProduct): void {
  if (cart.currency !== null && cart.currency !== product.currency) {
    throw ordersError('currency_mismatch', {
      detail: `This cart is in ${cart.currency}; product ${product.id} is priced in ${product.currency}`,
    });
  }
}

function checkStock(productId: string, wanted: number, available: number): void {
  if (wanted > available) {
    throw ordersError('insufficient_stock', {
      detail: `Product ${productId}: ${wanted} wanted, ${available} available`,
      errors: [
        {
          path: 'body.quantity',
          message: `${wanted} wanted, ${available} available`,
          code: 'insufficient_stock',
        },
      ],
    });
  }
}

async function findProduct(deps: OrdersDeps, productId: string): Promise<CatalogProduct> {
  const [product] = await deps.catalog.findProducts([productId]);
  return checkSellable(product, productId);
}

/**
 * The caller's cart, or undefined when they have none yet. A guest's token that names no cart is
 * 404 `cart_not_found` (the client drops it). A signed-in caller who still sends their guest
 * token gets that guest cart merged into their own first (see mergeGuestCart).
 */
async function callerCart(
  deps: OrdersDeps,
  caller: CartCaller,
): Promise<{ cart: CartRow | undefined; notices: CartNotice[] }> {
  const notices =
    caller.userId && caller.token ? await mergeGuestCart(deps, caller.userId, caller.token) : [];
  const key = keyOf(caller);
  const cart = key ? await findCart(deps.db, key) : undefined;
  if (!cart && !caller.userId && caller.token) throw ordersError('cart_not_found');
  return { cart, notices };
}

/** The cart as it stands now: every line priced and checked against the catalog and the stock. */
async function viewOf(
  deps: OrdersDeps,
  cart: CartRow | undefined,
  notices: CartNotice[] = [],
): Promise<CartView> {
  const region = cart?.region ?? deps.settings.regions[0]!;
  const rows: CartLineRow[] = cart ? await findCartLines(deps.db, cart.id) : [];
  const ids = rows.map((row) => row.product_id);
  const [products, available] = await Promise.all([
    deps.catalog.findProducts(ids),
    deps.inventory.availableIn(region, ids),
  ]);
  const byId = new Map(products.map((product) => [product.id, product]));
  const lines = rows.map((row): CartLineView => {
    const product = byId.get(row.product_id);
    const units = available.get(row.product_id) ?? 0;
    const unitPriceMinor = product?.priceMinor ?? row.unit_price_minor;
    let problem: LineProblem | null = null;
    if (!product) problem = 'product_not_found';
    else if (!product.active) problem = 'product_inactive';
    else if (product.currency !== cart!.currency) problem = 'currency_mismatch';
    else if (units < row.quantity) problem = 'insufficient_stock';
    return {
      productId: row.product_id,
      name: product?.name ?? null,
      sku: product?.sku ?? null,
      quantity: row.quantity,
      unitPriceMinor,
      lineTotalMinor: unitPriceMinor * row.quantity,
      available: units,
      problem,
    };
  });
  return {
    region,
    currency: cart?.currency ?? null,
    lines,
    itemCount: lines.reduce((sum, line) => sum + line.quantity, 0),
    totalMinor: lines.reduce((sum, line) => sum + line.lineTotalMinor, 0),
    checkoutReady: lines.length > 0 && lines.every((line) => line.problem === null),
    notices,
  };
}

export async function getCart(deps: OrdersDeps, caller: CartCaller): Promise<CartView> {
  const { cart, notices } = await callerCart(deps, caller);
  return viewOf(deps, cart, notices);
}

/**
 * Adds `quantity` units of a product (to its line, if the cart has one). The product must be on
 * sale, in the cart's currency, and the line's new quantity available in the cart's region. A
 * guest without a cart gets one, and its token (`cartToken`), once.
 */
export async function addCartItem(
  deps: OrdersDeps,
  caller: CartCaller,
  item: { productId: string; quantity: number },
): Promise<{ view: CartView; cartToken?: string }> {
  const { cart: existing, notices } = await callerCart(deps, caller);
  const region = existing?.region ?? deps.settings.regions[0]!;
  const [product, available] = await Promise.all([
    findProduct(deps, item.productId),
    deps.inventory.availableIn(region, [item.productId]),
  ]);
  const cartToken = !existing && !caller.userId ? newCartToken() : undefined;
  const cart = await withTransaction(deps.db, async (trx) => {
    const locked = existing
      ? await lockCart(trx, { id: existing.id })
      : caller.userId
        ? await lockOrCreateUserCart(trx, caller.userId, region)
        : await insertGuestCart(trx, hashCartToken(cartToken!), region);
    if (!locked) throw ordersError('cart_not_found');
    checkCurrency(locked, product);
    const lines = await findCartLines(trx, locked.id);
    const line = lines.find((row) => row.product_id === item.productId);
    if (!line && lines.length >= deps.settings.cartMaxLines) {
      throw ordersError('cart_full', {
        detail: `A cart holds at most ${deps.settings.cartMaxLines} lines`,
      });
    }
    const quantity = (line?.quantity ?? 0) + item.quantity;
    checkStock(item.productId, quantity, available.get(item.productId) ?? 0);
    await upsertCartLine(trx, {
      cartId: locked.id,
      productId: item.productId,
      quantity,
      unitPriceMinor: product.priceMinor,
    });
    await updateCart(trx, locked.id, { currency: product.currency });
    return locked;
  });
  const view = await viewOf(deps, { ...cart, currency: product.currency }, notices);
  return { view, ...(cartToken ? { cartToken } : {}) };
}

/** The cart a change of a line applies to: the caller must have one. */
async function existingCart(
  deps: OrdersDeps,
  caller: CartCaller,
): Promise<{ cart: CartRow; notices: CartNotice[] }> {
  const { cart, notices } = await callerCart(deps, caller);
  if (!cart) throw ordersError(caller.userId ? 'line_not_found' : 'cart_not_found');
  return { cart, notices };
}

/** Sets a line's quantity, checked as an add is. */
export async function setCartItemQuantity(
  deps: OrdersDeps,
  caller: CartCaller,
  productId: string,
  quantity: number,
): Promise<CartView> {
  const { cart, notices } = await existingCart(deps, caller);
  const hasLine = async (db: Knex) =>
    (await findCartLines(db, cart.id)).some((row) => row.product_id === productId);
  // The cart's own answer first: a product it does not hold is not asked of the catalog.
  if (!(await hasLine(deps.db))) throw ordersError('line_not_found');
  const [product, available] = await Promise.all([
    findProduct(deps, productId),
    deps.inventory.availableIn(cart.region, [productId]),
  ]);
  await withTransaction(deps.db, async (trx) => {
    const locked = (await lockCart(trx, { id: cart.id }))!;
    if (!(await hasLine(trx))) throw ordersError('line_not_found');
    checkCurrency(locked, product);
    checkStock(productId, quantity, available.get(productId) ?? 0);
    await upsertCartLine(trx, {
      cartId: locked.id,
      productId,
      quantity,
      unitPriceMinor: product.priceMinor,
    });
    await updateCart(trx, locked.id, {});
  });
  return viewOf(deps, cart, notices);
}

/** Removes a line; an emptied cart has no currency any more. */
export async function removeCartItem(
  deps: OrdersDeps,
  caller: CartCaller,
  productId: string,
): Promise<CartView> {
  const { cart, notices } = await existingCart(deps, caller);
  const currency = await withTransaction(deps.db, async (trx) => {
    const locked = (await lockCart(trx, { id: cart.id }))!;
    if (!(await deleteCartLine(trx, locked.id, productId))) throw ordersError('line_not_found');
    const left = await findCartLines(trx, locked.id);
    const next = left.length === 0 ? null : locked.currency;
    await updateCart(trx, locked.id, { currency: next });
    return next;
  });
  return viewOf(deps, { ...cart, currency }, notices);
}

/**
 * Chooses the region the cart ships from: every line must be available there (409
 * `insufficient_stock` names the lines that are not). A guest without a cart gets one.
 */
export async function setCartRegion(
  deps: OrdersDeps,
  caller: CartCaller,
  region: string,
): Promise<{ view: CartView; cartToken?: string }> {
  assertKnownRegion(deps, region);
  const { cart: existing, notices } = await callerCart(deps, caller);
  const rows = existing ? await findCartLines(deps.db, existing.id) : [];
  const available = await deps.inventory.availableIn(
    region,
    rows.map((row) => row.product_id),
  );
  const shortages: FieldError[] = [];
  rows.forEach((row, index) => {
    const units = available.get(row.product_id) ?? 0;
    if (units < row.quantity) {
      shortages.push({
        path: `lines.${index}.quantity`,
        message: `product ${row.product_id}: ${row.quantity} in the cart, ${units} available in ${region}`,
        code: 'insufficient_stock',
      });
    }
  });
  if (shortages.length > 0) {
    throw ordersError('insufficient_stock', {
      detail: `Not every line is available in ${region}`,
      errors: shortages,
    });
  }
  const cartToken = !existing && !caller.userId ? newCartToken() : undefined;
  const cart = await withTransaction(deps.db, async (trx) => {
    if (existing) {
      await updateCart(trx, existing.id, { region });
      return { ...existing, region };
    }
    if (caller.userId) {
      const created = await lockOrCreateUserCart(trx, caller.userId, region);
      await updateCart(trx, created.id, { region });
      return { ...created, region };
    }
    return insertGuestCart(trx, hashCartToken(cartToken!), region);
  });
  return { view: await viewOf(deps, cart, notices), ...(cartToken ? { cartToken } : {}) };
}

/**
 * Moves a guest's cart into the signed-in user's (the guest signed in): each line's quantity is
 * added to the user's line for the product, capped by what is available in the user's cart's
 * region; lines that cannot be carried over (unknown, not on sale, another currency, a full cart)
 * are left out. Every change is a notice. The guest cart is deleted: its token is dead. A token
 * that names no cart (merged already, by a concurrent call) changes nothing.
 */
export async function mergeGuestCart(
  deps: OrdersDeps,
  userId: string,
  token: string,
): Promise<CartNotice[]> {
  const tokenHash = hashCartToken(token);
  const guest = await findCart(deps.db, { tokenHash });
  if (!guest) return [];
  const guestLines = await findCartLines(deps.db, guest.id);
  const mine = await findCart(deps.db, { userId });
  const region = mine?.region ?? guest.region;
  const ids = guestLines.map((line) => line.product_id);
  const [products, available] = await Promise.all([
    deps.catalog.findProducts(ids),
    deps.inventory.availableIn(region, ids),
  ]);
  const byId = new Map(products.map((product) => [product.id, product]));
  const notices: CartNotice[] = [];
  await withTransaction(deps.db, async (trx) => {
    const still = await lockCart(trx, { tokenHash });
    if (!still) return;
    const target = await lockOrCreateUserCart(trx, userId, region);
    const lines = await findCartLines(trx, target.id);
    let currency = target.currency;
    let count = lines.length;
    for (const guestLine of guestLines) {
      const productId = guestLine.product_id;
      const product = byId.get(productId);
      const skip = (code: CartNotice['code'], message: string) =>
        notices.push({ productId, code, message });
      if (!product) {
        skip('product_not_found', 'The catalog no longer has this product');
        continue;
      }
      if (!product.active) {
        skip('product_inactive', 'This product is no longer on sale');
        continue;
      }
      if (currency !== null && product.currency !== currency) {
        skip('currency_mismatch', `Priced in ${product.currency}; this cart is in ${currency}`);
        continue;
      }
      const line = lines.find((row) => row.product_id === productId);
      if (!line && count >= deps.settings.cartMaxLines) {
        skip('cart_full', `A cart holds at most ${deps.settings.cartMaxLines} lines`);
        continue;
      }
      const had = line?.quantity ?? 0;
      const wanted = had + guestLine.quantity;
      const quantity = Math.min(wanted, Math.max(available.get(productId) ?? 0, had));
      if (quantity < wanted) {
        skip(
          quantity === 0 ? 'insufficient_stock' : 'quantity_capped',
          `${wanted} wanted, ${available.get(productId) ?? 0} available in ${region}`,
        );
      }
      if (quantity === 0 || quantity === had) continue;
      await upsertCartLine(trx, {
        cartId: target.id,
        productId,
        quantity,
        unitPriceMinor: product.priceMinor,
      });
      if (!line) count++;
      currency = product.currency;
    }
    await updateCart(trx, target.id, { currency });
    await deleteCart(trx, still.id);
  });
  deps.log.info({ userId, notices: notices.length, outcome: 'merged' }, 'guest cart merged');
  return notices;
}
