import { lowStock, type LowStockRow, type ProductSummary } from '../../lib/catalog-api.js';
import { byId, fill, h } from '../../lib/dom.js';
import { money } from '../../lib/format.js';
import { mountLayout } from '../../lib/layout.js';
import { changeProduct, deactivateProduct, myProducts } from '../../lib/seller-api.js';
import { requireSeller, sellerNav, spinner, withButton } from '../../lib/seller-ui.js';
import { toast } from '../../lib/toast.js';

/**
 * The seller's products (`/seller`): every one of theirs, on sale or not, newest first, each to
 * edit (its details and its stock per region), take off sale or put back on sale; and the
 * low-stock list, the regions where one of them is below its threshold.
 */
mountLayout();
const root = byId('products');
const lowRoot = byId('low-stock');
const seller = requireSeller(root);
byId('seller-nav').append(sellerNav('/seller'));
const names = new Map<string, string>();

function statusCell(product: ProductSummary): HTMLElement {
  return product.active
    ? h('span', { class: 'badge text-bg-success' }, 'On sale')
    : h('span', { class: 'badge text-bg-secondary' }, 'Not on sale');
}

function productRow(product: ProductSummary): HTMLTableRowElement {
  const toggle = h(
    'button',
    {
      class: `btn btn-sm ${product.active ? 'btn-outline-danger' : 'btn-outline-success'}`,
      type: 'button',
      'data-action': product.active ? 'deactivate' : 'reactivate',
    },
    product.active ? 'Take off sale' : 'Put on sale',
    h('span', { class: 'visually-hidden' }, `: ${product.name}`),
  );
  const row = h(
    'tr',
    { 'data-product': product.id, 'data-active': String(product.active) },
    h(
      'th',
      { scope: 'row' },
      product.active
        ? h('a', { href: `/product?id=${encodeURIComponent(product.id)}` }, product.name)
        : product.name,
    ),
    h('td', { class: 'text-nowrap' }, product.sku),
    h(
      'td',
      { class: 'text-nowrap', 'data-price': '' },
      money(product.priceMinor, product.currency),
    ),
    h('td', {}, statusCell(product)),
    h(
      'td',
      { class: 'text-nowrap' },
      h(
        'a',
        {
          class: 'btn btn-sm btn-outline-primary me-2',
          href: `/seller/product?id=${encodeURIComponent(product.id)}`,
        },
        'Edit and stock',
        h('span', { class: 'visually-hidden' }, `: ${product.name}`),
      ),
      toggle,
    ),
  );
  toggle.addEventListener('click', () => {
    void withButton(toggle, async () => {
      if (product.active) await deactivateProduct(product.id);
      else await changeProduct(product.id, { active: true });
      const changed = { ...product, active: !product.active };
      const next = productRow(changed);
      row.replaceWith(next);
      next.querySelector<HTMLButtonElement>('[data-action]')?.focus();
      toast(
        changed.active ? `${product.name} is on sale again.` : `${product.name} is off sale.`,
        'success',
      );
    });
  });
  return row;
}

async function showProducts(sellerId: string): Promise<void> {
  const body = h('tbody', {});
  const more = h('button', { class: 'btn btn-outline-secondary', type: 'button' }, 'Load more');
  let cursor: string | null = null;
  async function load(): Promise<void> {
    const page = await myProducts(sellerId, cursor ?? undefined);
    for (const product of page.items) names.set(product.id, product.name);
    body.append(...page.items.map(productRow));
    cursor = page.nextCursor;
    more.hidden = cursor === null;
  }
  more.addEventListener('click', () => void withButton(more, load));
  try {
    await load();
    if (body.childElementCount === 0) {
      fill(
        root,
        h(
          'p',
          { class: 'text-body-secondary', id: 'no-products' },
          'You have no products yet. Add your first one.',
        ),
      );
      return;
    }
    fill(
      root,
      h(
        'div',
        { class: 'table-responsive' },
        h(
          'table',
          { class: 'table align-middle', id: 'product-table' },
          h('caption', { class: 'visually-hidden' }, 'Your products'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Name', 'SKU', 'Price', 'Status', 'Actions'].map((name) =>
                h('th', { scope: 'col' }, name),
              ),
            ),
          ),
          body,
        ),
      ),
      more,
    );
  } catch (error) {
    fill(root, h('p', { class: 'text-danger' }, 'Your products could not be loaded.'));
    toast((error as Error).message, 'error');
  } finally {
    root.setAttribute('aria-busy', 'false');
  }
}

function lowRow(row: LowStockRow): HTMLTableRowElement {
  const name = names.get(row.productId) ?? row.productId;
  return h(
    'tr',
    { 'data-low-stock': row.productId, 'data-region': row.region },
    h(
      'th',
      { scope: 'row' },
      h('a', { href: `/seller/product?id=${encodeURIComponent(row.productId)}#stock` }, name),
    ),
    h('td', {}, row.region),
    h('td', {}, String(row.available)),
    h('td', {}, String(row.lowStockThreshold)),
  );
}

async function showLowStock(): Promise<void> {
  fill(lowRoot, spinner('Checking stock…'));
  try {
    const rows: LowStockRow[] = [];
    let cursor: string | undefined;
    do {
      const page = await lowStock(cursor);
      rows.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor && rows.length < 500);
    if (rows.length === 0) {
      fill(
        lowRoot,
        h('p', { class: 'text-body-secondary', id: 'no-low-stock' }, 'Nothing is low.'),
      );
      return;
    }
    fill(
      lowRoot,
      h(
        'div',
        { class: 'table-responsive' },
        h(
          'table',
          { class: 'table table-sm w-auto', id: 'low-stock-table' },
          h('caption', { class: 'visually-hidden' }, 'Low stock'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Product', 'Region', 'Available', 'Threshold'].map((name) =>
                h('th', { scope: 'col' }, name),
              ),
            ),
          ),
          h('tbody', {}, ...rows.map(lowRow)),
        ),
      ),
    );
  } catch (error) {
    fill(lowRoot, h('p', { class: 'text-danger' }, 'The low-stock list could not be loaded.'));
    toast((error as Error).message, 'error');
  } finally {
    lowRoot.setAttribute('aria-busy', 'false');
  }
}

if (seller) {
  void showProducts(seller.id).then(showLowStock);
} else {
  lowRoot.replaceChildren();
  lowRoot.setAttribute('aria-busy', 'false');
}
