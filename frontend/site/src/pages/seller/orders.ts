import { byId, fill, h } from '../../lib/dom.js';
import { dateTime, minorDigits, money, parseMajor } from '../../lib/format.js';
import { busy, clearProblems, fieldProblem } from '../../lib/forms.js';
import { mountLayout } from '../../lib/layout.js';
import { refundOrder, refundReasons, type Order, type RefundBody } from '../../lib/orders-api.js';
import { fulfil, soldOrders, type SoldOrder } from '../../lib/seller-api.js';
import {
  orderStatusNames,
  placeProblems,
  requireSeller,
  sellerNav,
  spinner,
  statusBadge,
  withButton,
} from '../../lib/seller-ui.js';
import { toast } from '../../lib/toast.js';

/**
 * The orders holding the seller's items (`/seller/orders`), newest first, by status: where each
 * goes, the seller's own lines, and what they may do with it — mark it shipped, then delivered,
 * and refund it in full or in part (the refund goes to payments and settles a moment later:
 * Refresh shows it). An order with other sellers' items too is an admin's to ship and refund.
 */
mountLayout();
const root = byId('orders');
const filter = byId<HTMLFormElement>('orders-filter');
const statusSelect = byId<HTMLSelectElement>('status-filter');
const seller = requireSeller(root);
byId('seller-nav').append(sellerNav('/seller/orders'));
for (const [status, name] of Object.entries(orderStatusNames)) {
  statusSelect.append(h('option', { value: status }, name));
}
statusSelect.value = new URLSearchParams(location.search).get('status') ?? '';

const refundable = new Set(['paid', 'shipped', 'delivered', 'partially_refunded']);
const shippable = new Set(['paid', 'partially_refunded']);
const deliverable = new Set(['shipped', 'partially_refunded']);

function address(order: SoldOrder): HTMLElement {
  const to = order.shippingAddress;
  return h(
    'address',
    { class: 'mb-0 small' },
    ...[to.name, to.line1, to.line2, `${to.postalCode} ${to.city}`, to.country]
      .filter((line): line is string => Boolean(line))
      .flatMap((line, index) => (index === 0 ? [line] : [h('br'), line])),
  );
}

function linesTable(order: SoldOrder): HTMLElement {
  return h(
    'table',
    { class: 'table table-sm mb-0' },
    h('caption', { class: 'visually-hidden' }, 'Your items in this order'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Item'),
        h('th', { scope: 'col', class: 'text-end' }, 'Quantity'),
        h('th', { scope: 'col', class: 'text-end' }, 'Total'),
      ),
    ),
    h(
      'tbody',
      {},
      ...order.lines.map((line) =>
        h(
          'tr',
          {},
          h('td', {}, line.name, h('span', { class: 'text-body-secondary small' }, ` ${line.sku}`)),
          h('td', { class: 'text-end' }, String(line.quantity)),
          h('td', { class: 'text-end' }, money(line.lineTotalMinor, order.currency)),
        ),
      ),
    ),
  );
}

/** The refund form: an amount (left empty, all that is left), a reason, and a restock. */
function refundForm(order: SoldOrder, update: (answer: Order) => void): HTMLElement {
  const left = order.totalMinor - order.refundedMinor;
  const id = (name: string) => `refund-${name}-${order.id}`;
  const amount = h('input', {
    class: 'form-control',
    id: id('amount'),
    name: 'amountMinor',
    inputmode: 'decimal',
    placeholder: `All that is left: ${money(left, order.currency)}`,
    'aria-describedby': `${id('amount')}-help`,
  });
  const reason = h(
    'select',
    { class: 'form-select', id: id('reason'), name: 'reason', required: true },
    h('option', { value: '' }, 'Choose a reason'),
    ...Object.entries(refundReasons).map(([code, text]) => h('option', { value: code }, text)),
  );
  const restock = h('input', {
    class: 'form-check-input',
    id: id('restock'),
    name: 'restock',
    type: 'checkbox',
  });
  const form = h(
    'form',
    { class: 'row g-2 align-items-start mt-1', novalidate: true, 'data-refund': order.id },
    h(
      'div',
      { class: 'col-sm-6 col-lg-4' },
      h('label', { class: 'form-label', for: id('amount') }, `Amount (${order.currency})`),
      amount,
      h(
        'div',
        { class: 'form-text', id: `${id('amount')}-help` },
        `Up to ${money(left, order.currency)}; empty: all of it.`,
      ),
    ),
    h(
      'div',
      { class: 'col-sm-6 col-lg-4' },
      h('label', { class: 'form-label', for: id('reason') }, 'Reason'),
      reason,
    ),
    h(
      'div',
      { class: 'col-12 form-check ms-2' },
      restock,
      h('label', { class: 'form-check-label', for: id('restock') }, 'Put the items back in stock'),
    ),
    h(
      'div',
      { class: 'col-12' },
      h('button', { class: 'btn btn-warning', type: 'submit' }, 'Refund'),
    ),
  );
  // One key per refund asked: a retry of the same request (an answer lost) is answered the first
  // answer, never refunded twice; another request gets a key of its own.
  let attempt: { body: string; key: string } | undefined;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearProblems(form);
    const body: RefundBody = { reason: reason.value as RefundBody['reason'] };
    let wrong = false;
    if (amount.value.trim() !== '') {
      const minor = parseMajor(amount.value, order.currency);
      if (minor === undefined || Number.isNaN(minor) || minor < 1 || minor > left) {
        const most = (left / 10 ** minorDigits(order.currency)).toFixed(
          minorDigits(order.currency),
        );
        wrong = fieldProblem(form, 'amountMinor', `An amount above zero, up to ${most}.`);
      } else {
        body.amountMinor = minor;
      }
    }
    if (!reason.value) wrong = fieldProblem(form, 'reason', 'Choose why.') || wrong;
    if (restock.checked) body.restock = true;
    if (wrong) {
      form.querySelector<HTMLElement>('.is-invalid')?.focus();
      return;
    }
    const text = JSON.stringify(body);
    if (attempt?.body !== text) attempt = { body: text, key: crypto.randomUUID() };
    const key = attempt.key;
    void busy(form, async () => {
      try {
        const answer = await refundOrder(order.id, key, body);
        attempt = undefined;
        toast(
          `Refund of ${money(answer.refund.amountMinor, order.currency)} requested: it settles in a moment.`,
          'success',
        );
        update(answer.order);
      } catch (error) {
        placeProblems(form, error);
      }
    });
  });
  return h('details', { class: 'mt-3' }, h('summary', {}, 'Refund this order'), form);
}

function orderCard(order: SoldOrder, pending: Order['refunds'] = []): HTMLElement {
  const card = h('article', {
    class: 'card mb-3',
    'data-order': order.id,
    'aria-labelledby': `order-${order.id}`,
  });
  const update = (answer: Order) => {
    const next = orderCard(
      {
        ...order,
        status: answer.status,
        refundedMinor: answer.refundedMinor,
        updatedAt: answer.updatedAt,
      },
      answer.refunds.filter((entry) => entry.status === 'pending'),
    );
    card.replaceWith(next);
    next.querySelector<HTMLElement>('h2')?.focus();
  };
  const actions = h('div', { class: 'd-flex flex-wrap gap-2' });
  const step = (name: 'ship' | 'deliver', text: string) => {
    const button = h(
      'button',
      { class: 'btn btn-primary btn-sm', type: 'button', 'data-action': name },
      text,
    );
    button.addEventListener('click', () => {
      void withButton(button, async () => {
        const answer = await fulfil(order.id, name);
        toast(name === 'ship' ? 'Marked shipped.' : 'Marked delivered.', 'success');
        update(answer);
      });
    });
    return button;
  };
  if (!order.otherSellers) {
    if (shippable.has(order.status)) actions.append(step('ship', 'Mark shipped'));
    if (deliverable.has(order.status)) actions.append(step('deliver', 'Mark delivered'));
  }
  const mine = order.lines.reduce((sum, line) => sum + line.lineTotalMinor, 0);
  card.append(
    h(
      'div',
      { class: 'card-header d-flex flex-wrap align-items-center gap-2' },
      h(
        'h2',
        { class: 'h6 mb-0 me-auto', id: `order-${order.id}`, tabindex: -1 },
        `Order ${order.id.slice(0, 8)}`,
        h('span', { class: 'text-body-secondary fw-normal' }, ` · ${dateTime(order.createdAt)}`),
      ),
      statusBadge(order.status),
    ),
    h(
      'div',
      { class: 'card-body' },
      h(
        'div',
        { class: 'row g-3' },
        h(
          'div',
          { class: 'col-md-4' },
          h('h3', { class: 'h6' }, 'Ship to'),
          address(order),
          h('p', { class: 'small text-body-secondary mt-2 mb-0' }, `From ${order.region}`),
        ),
        h('div', { class: 'col-md-8 table-responsive' }, linesTable(order)),
      ),
      h(
        'p',
        { class: 'mt-3 mb-2', 'data-totals': '' },
        `Your items: ${money(mine, order.currency)} · order total ${money(order.totalMinor, order.currency)}`,
        order.refundedMinor > 0 ? ` · refunded ${money(order.refundedMinor, order.currency)}` : '',
      ),
      ...pending.map((entry) =>
        h(
          'p',
          {
            class: 'small text-body-secondary mb-2',
            role: 'status',
            'data-refund-pending': entry.refundId,
          },
          h('span', { class: 'spinner-border spinner-border-sm me-1', 'aria-hidden': 'true' }),
          `Refund of ${money(entry.amountMinor, order.currency)} pending with payments: Refresh to see it settle.`,
        ),
      ),
      order.otherSellers
        ? h(
            'p',
            { class: 'alert alert-info small mb-0' },
            'Other sellers have items in this order: an admin ships and refunds it.',
          )
        : null,
      actions,
      !order.otherSellers && refundable.has(order.status) && order.refundedMinor < order.totalMinor
        ? refundForm(order, update)
        : null,
    ),
  );
  return card;
}

let loading: AbortController | undefined;

async function showOrders(): Promise<void> {
  loading?.abort();
  const mine = new AbortController();
  loading = mine;
  root.setAttribute('aria-busy', 'true');
  fill(root, spinner('Loading your orders…'));
  const status = statusSelect.value || undefined;
  const list = h('div', { id: 'order-list' });
  const more = h(
    'button',
    { class: 'btn btn-outline-secondary', type: 'button', id: 'more-orders' },
    'Load more',
  );
  let cursor: string | null = null;
  async function load(): Promise<void> {
    const page = await soldOrders(status, cursor ?? undefined);
    if (mine.signal.aborted) return;
    list.append(...page.items.map((order) => orderCard(order)));
    cursor = page.nextCursor;
    more.hidden = cursor === null;
  }
  more.addEventListener('click', () => void withButton(more, load));
  try {
    await load();
    if (mine.signal.aborted) return;
    fill(
      root,
      list.childElementCount > 0
        ? list
        : h(
            'p',
            { class: 'text-body-secondary', id: 'no-orders' },
            status ? 'No orders with this status.' : 'No orders of your items yet.',
          ),
      more,
    );
  } catch (error) {
    if (mine.signal.aborted) return;
    fill(root, h('p', { class: 'text-danger' }, 'Your orders could not be loaded.'));
    toast((error as Error).message, 'error');
  } finally {
    if (!mine.signal.aborted) root.setAttribute('aria-busy', 'false');
  }
}

filter.addEventListener('submit', (event) => {
  event.preventDefault();
  void busy(filter, showOrders);
});
statusSelect.addEventListener('change', () => {
  const url = new URL(location.href);
  if (statusSelect.value) url.searchParams.set('status', statusSelect.value);
  else url.searchParams.delete('status');
  history.replaceState(null, '', url);
  void showOrders();
});

if (seller) void showOrders();
