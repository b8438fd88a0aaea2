import { listOrders, orderStatuses, type OrderSummary } from '../../lib/orders-api.js';
import { adminPage, pagedList, statusBadge, words } from '../../lib/admin-page.js';
import { byId, h } from '../../lib/dom.js';
import { dateTime, money } from '../../lib/format.js';

/**
 * `/admin/orders?status=`: every shopper's orders, newest first, filtered by status (in the URL,
 * so back and forward work), "load more" by the API's cursor; each links to its detail.
 */
const select = byId<HTMLSelectElement>('order-status');

function chosen(): string {
  const status = new URLSearchParams(location.search).get('status') ?? '';
  return (orderStatuses as readonly string[]).includes(status) ? status : '';
}

function row(order: OrderSummary): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-order': order.id },
    h(
      'th',
      { scope: 'row' },
      h(
        'a',
        { href: `/admin/order?id=${encodeURIComponent(order.id)}`, class: 'font-monospace' },
        order.id.slice(0, 8),
        h('span', { class: 'visually-hidden' }, ` (order ${order.id})`),
      ),
      h('div', { class: 'small text-body-secondary fw-normal' }, `Region ${order.region}`),
    ),
    h('td', {}, dateTime(order.createdAt)),
    h('td', {}, statusBadge(order.status, { 'data-status': order.status })),
    h('td', { class: 'text-end' }, order.itemCount),
    h('td', { class: 'text-end' }, money(order.totalMinor, order.currency)),
    h(
      'td',
      { class: 'text-end' },
      order.refundedMinor > 0 ? money(order.refundedMinor, order.currency) : '—',
    ),
  );
}

if (adminPage('/admin/orders')) {
  select.append(...orderStatuses.map((status) => h('option', { value: status }, words(status))));
  const list = pagedList({
    body: byId('orders'),
    more: byId<HTMLButtonElement>('orders-more'),
    status: byId('orders-status'),
    columns: 6,
    load: (cursor) => listOrders({ status: chosen() || undefined, cursor, limit: 20 }),
    render: row,
    empty: 'No order has this status.',
    counted: (shown, all) =>
      `${shown} order${shown === 1 ? '' : 's'} shown${all ? '' : ': more to load'}.`,
  });
  const show = () => {
    select.value = chosen();
    void list.reset();
  };
  select.addEventListener('change', () => {
    history.pushState(null, '', select.value ? `?status=${select.value}` : location.pathname);
    show();
  });
  window.addEventListener('popstate', show);
  show();
}
