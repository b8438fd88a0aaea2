import {
  getOrder,
  refundOrder,
  refundReasons,
  type Order,
  type Refund,
  type RefundBody,
  type RefundReason,
} from '../../lib/orders-api.js';
import { adminPage, problemToast, spinner, statusBadge, words } from '../../lib/admin-page.js';
import { ApiError } from '../../lib/api.js';
import { byId, fill, h } from '../../lib/dom.js';
import { busy, clearProblems, fieldProblem, showProblem } from '../../lib/forms.js';
import { dateTime, minorDigits, money, parseMajor } from '../../lib/format.js';
import { toast } from '../../lib/toast.js';

/**
 * `/admin/order?id=`: one order — its lines, history, payment attempts and refunds — and a refund
 * in full or in part with a reason. The refund travels to payments over MQTT; the page follows
 * the order until the refund settles (succeeded: the order partially refunded or refunded; or
 * failed, with the reason) and shows it.
 */
const content = byId('admin-content');
const title = byId('order-title');
const id = new URLSearchParams(location.search).get('id') ?? '';
const refundable = new Set(['paid', 'shipped', 'delivered', 'partially_refunded']);
/** One Idempotency-Key per refund asked: the same body sent again (after a failure) reuses it. */
let pendingKey: { body: string; key: string } | undefined;

type Cell = Node | string | number | null | undefined;

/** A table row of cells (an empty one is a dash). */
const tableRow = (cells: Cell[], attributes: Record<string, string> = {}) =>
  h('tr', attributes, ...cells.map((cell) => h('td', {}, cell ?? '—')));

/** A section with its heading and a table of `rows` (or a line saying there are none). */
function listing(heading: string, headings: string[], rows: HTMLTableRowElement[], id: string) {
  return section(
    heading,
    rows.length === 0
      ? h('p', { class: 'text-body-secondary', id }, `No ${heading.toLowerCase()}.`)
      : h(
          'div',
          { class: 'table-responsive', tabindex: 0, role: 'region', 'aria-label': heading },
          h(
            'table',
            { class: 'table table-sm align-middle', id },
            h('caption', { class: 'visually-hidden' }, heading),
            h('thead', {}, h('tr', {}, ...headings.map((text) => h('th', { scope: 'col' }, text)))),
            h('tbody', {}, ...rows),
          ),
        ),
  );
}

/** What is left to refund: the total less every refund not failed (pending ones included). */
function leftOf(order: Order): number {
  const given = order.refunds
    .filter((refund) => refund.status !== 'failed')
    .reduce((sum, refund) => sum + refund.amountMinor, 0);
  return Math.max(0, order.totalMinor - given);
}

function section(heading: string, ...children: Array<Node | null>): HTMLElement {
  return h('section', { class: 'mb-4' }, h('h2', { class: 'h5' }, heading), ...children);
}

function refundForm(order: Order): HTMLElement | null {
  const left = leftOf(order);
  if (!refundable.has(order.status) || left === 0) return null;
  const currency = order.currency;
  const amount = h('input', {
    class: 'form-control',
    id: 'refund-amount',
    name: 'amountMinor',
    inputmode: 'decimal',
    autocomplete: 'off',
    disabled: true,
    'aria-describedby': 'refund-amount-help',
  });
  const full = h('input', {
    class: 'form-check-input',
    type: 'radio',
    name: 'scope',
    id: 'refund-full',
    value: 'full',
    checked: true,
  });
  const partial = h('input', {
    class: 'form-check-input',
    type: 'radio',
    name: 'scope',
    id: 'refund-partial',
    value: 'partial',
  });
  const reason = h(
    'select',
    { class: 'form-select', id: 'refund-reason', name: 'reason', required: true },
    h('option', { value: '' }, 'Choose a reason'),
    ...(Object.keys(refundReasons) as RefundReason[]).map((code) =>
      h('option', { value: code }, refundReasons[code]),
    ),
  );
  const restock = h('input', {
    class: 'form-check-input',
    type: 'checkbox',
    id: 'refund-restock',
    name: 'restock',
  });
  const form = h(
    'form',
    { id: 'refund-form', class: 'card card-body', novalidate: true },
    h(
      'fieldset',
      { class: 'mb-3' },
      h('legend', { class: 'form-label fs-6' }, 'Amount'),
      h(
        'div',
        { class: 'form-check' },
        full,
        h(
          'label',
          { class: 'form-check-label', for: 'refund-full' },
          `All that is left: ${money(left, currency)}`,
        ),
      ),
      h(
        'div',
        { class: 'form-check' },
        partial,
        h('label', { class: 'form-check-label', for: 'refund-partial' }, 'Part of it'),
      ),
      h(
        'div',
        { class: 'mt-2 refund-amount' },
        h('label', { class: 'form-label', for: 'refund-amount' }, `Amount to refund (${currency})`),
        amount,
        h(
          'div',
          { class: 'form-text', id: 'refund-amount-help' },
          `Up to ${money(left, currency)}, e.g. ${(1).toFixed(minorDigits(currency))}.`,
        ),
      ),
    ),
    h(
      'div',
      { class: 'mb-3' },
      h('label', { class: 'form-label', for: 'refund-reason' }, 'Reason'),
      reason,
    ),
    h(
      'div',
      { class: 'form-check mb-3' },
      restock,
      h(
        'label',
        { class: 'form-check-label', for: 'refund-restock' },
        'Put the items back in stock',
      ),
    ),
    h('div', {}, h('button', { class: 'btn btn-danger', type: 'submit' }, 'Refund')),
  );
  form.addEventListener('change', () => {
    amount.disabled = !partial.checked;
    if (partial.checked && document.activeElement === partial) amount.focus();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearProblems(form);
    let problem = false;
    const body: RefundBody = { reason: reason.value as RefundBody['reason'] };
    if (!reason.value) problem = fieldProblem(form, 'reason', 'Choose why the money goes back.');
    if (partial.checked) {
      const minor = parseMajor(amount.value, currency);
      if (minor === undefined || Number.isNaN(minor) || minor <= 0) {
        problem = fieldProblem(form, 'amountMinor', 'An amount such as 12.50.') || problem;
      } else if (minor > left) {
        problem = fieldProblem(form, 'amountMinor', `At most ${money(left, currency)}.`) || problem;
      } else {
        body.amountMinor = minor;
      }
    }
    if (restock.checked) body.restock = true;
    if (problem) {
      form.querySelector<HTMLElement>('.is-invalid')?.focus();
      return;
    }
    const text = JSON.stringify(body);
    if (pendingKey?.body !== text) pendingKey = { body: text, key: crypto.randomUUID() };
    const key = pendingKey.key;
    void busy(form, async () => {
      try {
        const answer = await refundOrder(order.id, key, body);
        pendingKey = undefined;
        toast(`Refund of ${money(answer.refund.amountMinor, currency)} asked of payments.`, 'info');
        render(answer.order);
        void follow(answer.refund.refundId);
      } catch (error) {
        // A refusal is final for this body: a new attempt is a new refund.
        if (error instanceof ApiError && error.status >= 400 && error.status < 500)
          pendingKey = undefined;
        showProblem(form, error);
      }
    });
  });
  return section('Refund', form);
}

function refundRow(order: Order, refund: Refund): HTMLTableRowElement {
  return tableRow(
    [
      dateTime(refund.requestedAt),
      words(refund.kind),
      statusBadge(refund.status, { 'data-status': refund.status }),
      money(refund.amountMinor, order.currency),
      words(refund.reason),
      refund.failureReason
        ? words(refund.failureReason)
        : refund.settledAt
          ? dateTime(refund.settledAt)
          : null,
    ],
    { 'data-refund': refund.refundId },
  );
}

function render(order: Order): void {
  title.textContent = `Order ${order.id.slice(0, 8)}`;
  document.title = `Order ${order.id.slice(0, 8)} — Back office — Mercado`;
  const address = order.shippingAddress;
  const pending = order.refunds.find((refund) => refund.status === 'pending');
  fill(
    content,
    h(
      'dl',
      { class: 'row mb-4', id: 'order-summary' },
      h('dt', { class: 'col-sm-3' }, 'Status'),
      h(
        'dd',
        { class: 'col-sm-9' },
        statusBadge(order.status, { id: 'order-status', 'data-status': order.status }),
      ),
      h('dt', { class: 'col-sm-3' }, 'Total'),
      h(
        'dd',
        { class: 'col-sm-9' },
        money(order.totalMinor, order.currency),
        ` (${order.itemCount} items)`,
      ),
      h('dt', { class: 'col-sm-3' }, 'Refunded'),
      h(
        'dd',
        { class: 'col-sm-9', id: 'order-refunded' },
        money(order.refundedMinor, order.currency),
      ),
      h('dt', { class: 'col-sm-3' }, 'Placed'),
      h('dd', { class: 'col-sm-9' }, dateTime(order.createdAt)),
      h('dt', { class: 'col-sm-3' }, 'Customer'),
      h('dd', { class: 'col-sm-9 font-monospace text-break' }, order.userId),
      h('dt', { class: 'col-sm-3' }, 'Region'),
      h('dd', { class: 'col-sm-9' }, order.region),
      h('dt', { class: 'col-sm-3' }, 'Pay code'),
      h('dd', { class: 'col-sm-9 font-monospace' }, order.payCode ?? '—'),
      h('dt', { class: 'col-sm-3' }, 'Ships to'),
      h(
        'dd',
        { class: 'col-sm-9' },
        address
          ? [
              address.name,
              address.line1,
              address.line2,
              `${address.postalCode ?? ''} ${address.city ?? ''}`,
              address.country,
            ]
              .filter(Boolean)
              .join(', ')
          : '—',
      ),
    ),
    pending
      ? h(
          'div',
          { class: 'alert alert-warning', id: 'refund-pending' },
          spinner(
            `A refund of ${money(pending.amountMinor, order.currency)} is with payments: this page shows it when it settles.`,
          ),
        )
      : null,
    listing(
      'Lines',
      ['Product', 'SKU', 'Unit price', 'Quantity', 'Total'],
      order.lines.map((line) =>
        tableRow([
          line.name,
          line.sku,
          money(line.unitPriceMinor, order.currency),
          line.quantity,
          money(line.lineTotalMinor, order.currency),
        ]),
      ),
      'order-lines',
    ),
    refundForm(order),
    listing(
      'Refunds',
      ['Asked', 'Kind', 'Status', 'Amount', 'Reason', 'Settled'],
      order.refunds.map((refund) => refundRow(order, refund)),
      'order-refunds',
    ),
    listing(
      'Payment attempts',
      ['When', 'Outcome', 'Amount', 'Card', 'Reason'],
      order.payments.map((payment) =>
        tableRow([
          dateTime(payment.at),
          words(payment.outcome),
          payment.amountMinor === null ? null : money(payment.amountMinor, order.currency),
          payment.cardLast4 ? `${payment.cardBrand ?? 'card'} •••• ${payment.cardLast4}` : null,
          payment.reason ? words(payment.reason) : null,
        ]),
      ),
      'order-payments',
    ),
    listing(
      'History',
      ['When', 'From', 'To', 'Why', 'By'],
      order.history.map((move) =>
        tableRow([
          dateTime(move.at),
          move.from ? words(move.from) : null,
          words(move.to),
          words(move.cause),
          move.actor,
        ]),
      ),
      'order-history',
    ),
  );
  content.setAttribute('aria-busy', 'false');
}

/** Reads the order again, at a growing pace, until the refund is no longer pending. */
async function follow(refundId: string): Promise<void> {
  let pause = 500;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 5_000);
    let order: Order;
    try {
      order = await getOrder(id);
    } catch {
      continue;
    }
    const refund = order.refunds.find((each) => each.refundId === refundId);
    if (refund?.status === 'pending') continue;
    render(order);
    if (refund?.status === 'succeeded') {
      toast(`Refund settled: the order is ${words(order.status)}.`, 'success');
    } else {
      toast(
        `The refund failed${refund?.failureReason ? `: ${words(refund.failureReason)}` : ''}.`,
        'error',
      );
    }
    return;
  }
}

if (adminPage('/admin/orders')) {
  if (!id) {
    fill(
      content,
      h(
        'p',
        { class: 'alert alert-warning' },
        'Which order? ',
        h('a', { class: 'alert-link', href: '/admin/orders' }, 'Choose one'),
        '.',
      ),
    );
  } else {
    getOrder(id).then(
      (order) => {
        render(order);
        const pending = order.refunds.find((refund) => refund.status === 'pending');
        if (pending) void follow(pending.refundId);
      },
      (error: unknown) => {
        content.setAttribute('aria-busy', 'false');
        fill(
          content,
          h(
            'p',
            { class: 'alert alert-danger', role: 'alert' },
            error instanceof ApiError && error.status === 404
              ? 'No such order.'
              : 'The order could not be loaded. ',
            h('a', { class: 'alert-link', href: '/admin/orders' }, 'Back to all orders'),
            '.',
          ),
        );
        if (!(error instanceof ApiError && error.status === 404)) problemToast(error);
      },
    );
  }
}
