import { lowStock, type LowStockRow } from '../../lib/catalog-api.js';
import { adminPage, pagedList } from '../../lib/admin-page.js';
import { getProduct, type Product } from '../../lib/catalog-api.js';
import { byId, h } from '../../lib/dom.js';
import { dateTime } from '../../lib/format.js';

/**
 * `/admin/low-stock`: every (product, region) below its threshold, whoever sells it, with the
 * product's name from the catalog (a product no longer sold keeps its id).
 */
const names = new Map<string, Promise<Product | undefined>>();

function productCell(row: LowStockRow): HTMLElement {
  const link = h(
    'a',
    { href: `/product?id=${encodeURIComponent(row.productId)}`, class: 'font-monospace' },
    row.productId.slice(0, 8),
  );
  let product = names.get(row.productId);
  if (!product) {
    product = getProduct(row.productId).catch(() => undefined);
    names.set(row.productId, product);
  }
  void product.then((found) => {
    if (!found) return;
    link.classList.remove('font-monospace');
    link.textContent = found.name;
    link.after(h('div', { class: 'small text-body-secondary fw-normal' }, found.sku));
  });
  return h('th', { scope: 'row' }, link);
}

function row(item: LowStockRow): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-low-stock': `${item.productId}/${item.region}` },
    productCell(item),
    h('td', {}, item.region),
    h(
      'td',
      { class: `text-end fw-semibold${item.available <= 0 ? ' text-danger' : ''}` },
      item.available,
    ),
    h('td', { class: 'text-end' }, item.lowStockThreshold),
    h('td', { class: 'text-end' }, item.onHand),
    h('td', { class: 'text-end' }, item.reserved),
    h('td', {}, dateTime(item.updatedAt)),
  );
}

if (adminPage('/admin/low-stock')) {
  const list = pagedList({
    body: byId('low-stock'),
    more: byId<HTMLButtonElement>('low-stock-more'),
    status: byId('low-stock-status'),
    columns: 7,
    load: (cursor) => lowStock(cursor),
    render: row,
    empty: 'Nothing is low on stock.',
    counted: (shown, all) =>
      `${shown} low stock row${shown === 1 ? '' : 's'}${all ? '' : ': more to load'}.`,
  });
  void list.reset();
}
