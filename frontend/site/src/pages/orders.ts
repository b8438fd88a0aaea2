import { signInHere } from '../lib/account.js';
import type { ApiError } from '../lib/api.js';
import { byId, h } from '../lib/dom.js';
import { dateTime, money } from '../lib/format.js';
import { mountLayout } from '../lib/layout.js';
import { followOrders } from '../lib/live.js';
import { listOrders, statusColors, statusLabels, type OrderSummary } from '../lib/orders-api.js';
import { currentUser } from '../lib/session.js';
import { toast } from '../lib/toast.js';

/** The shopper's orders, newest first, each with its status (kept live), by the API's cursor. */
mountLayout();
const root = byId('orders');
const more = byId<HTMLButtonElement>('orders-more');
let cursor: string | null = null;
const shown: string[] = [];
let live: { close(): void } | undefined;

if (!currentUser()) location.replace(signInHere());

function badgeFor(status: string): HTMLElement {
  return h(
    'span',
    { class: `badge text-bg-${statusColors[status] ?? 'secondary'}`, 'data-status': status },
    statusLabels[status] ?? status,
  );
}

function row(order: OrderSummary): HTMLElement {
  return h(
    'a',
    {
      class:
        'list-group-item list-group-item-action d-flex flex-wrap justify-content-between gap-2',
      href: `/order?id=${encodeURIComponent(order.id)}`,
      'data-order': order.id,
    },
    h(
      'span',
      {},
      h('span', { class: 'fw-semibold' }, `Order ${order.id.slice(0, 8)}`),
      h('span', { class: 'text-body-secondary small ms-2' }, dateTime(order.createdAt)),
    ),
    h(
      'span',
      {},
      `${order.itemCount} item${order.itemCount === 1 ? '' : 's'}, ${money(order.totalMinor, order.currency)} `,
      badgeFor(order.status),
    ),
  );
}

async function load(): Promise<void> {
  root.setAttribute('aria-busy', 'true');
  more.disabled = true;
  try {
    const page = await listOrders({ limit: 20, ...(cursor ? { cursor } : {}) });
    if (!cursor) root.replaceChildren();
    if (page.items.length === 0 && shown.length === 0) {
      root.append(h('p', {}, 'No orders yet. ', h('a', { href: '/' }, 'Start shopping'), '.'));
    } else {
      let list = root.querySelector('.list-group');
      if (!list) {
        list = h('div', { class: 'list-group' });
        root.append(list);
      }
      list.append(...page.items.map(row));
      shown.push(...page.items.map((order) => order.id));
    }
    cursor = page.nextCursor;
    more.hidden = cursor === null;
    // Statuses kept live for the orders on the page.
    live?.close();
    if (shown.length > 0) {
      live = followOrders(
        shown,
        (event) => {
          const item = root.querySelector(`[data-order="${event.orderId}"] [data-status]`);
          item?.replaceWith(badgeFor(event.status));
        },
        () => undefined,
      );
    }
  } catch (error) {
    toast((error as ApiError).message, 'error');
  } finally {
    root.setAttribute('aria-busy', 'false');
    more.disabled = false;
  }
}

more.addEventListener('click', () => void load());
void load();
