import { signInHere } from '../lib/account.js';
import type { ApiError } from '../lib/api.js';
import { checkCard, encryptCard, forgetKeys, testCards } from '../lib/card.js';
import { byId, fill, h } from '../lib/dom.js';
import { busy, clearProblems, fieldProblem } from '../lib/forms.js';
import { dateTime, money } from '../lib/format.js';
import { mountLayout } from '../lib/layout.js';
import { followOrders, type LiveState } from '../lib/live.js';
import {
  cancelOrder,
  getOrder,
  payable,
  payOrder,
  refundReasons,
  refundStatuses,
  type RefundReason,
  statusColors,
  statusLabels,
  type Order,
} from '../lib/orders-api.js';
import { currentUser } from '../lib/session.js';
import { toast } from '../lib/toast.js';

/**
 * An order (`/order?id=…`): its status, followed live over MQTT (no polling: each status event
 * fetches the order once), the countdown to its payment deadline, the card form (checked here,
 * encrypted here for payments' key, then sent), the declined reason and a retry with another
 * card, the pay code (and its QR code) for paying at a shop's terminal, cancel while unpaid,
 * the lines, the address, the timeline, payments and refunds.
 */
mountLayout();
const root = byId('order');
const badge = byId('order-status');
const liveState = byId('live-state');
const id = new URLSearchParams(location.search).get('id') ?? '';
let countdown: ReturnType<typeof setInterval> | undefined;
/** The last payment's answer, shown above the form until the next attempt. */
let payNotice: { kind: 'danger' | 'info' | 'success'; text: string } | undefined;

const declineReasons: Record<string, string> = {
  card_declined: 'the card was declined',
  insufficient_funds: 'the card has insufficient funds',
  expired_card: 'the card has expired',
  incorrect_cvc: 'the security code is wrong',
  processing_error: 'the card processor had an error',
  lost_card: 'the card was reported lost',
  stolen_card: 'the card was reported stolen',
  invalid_amount: 'the amount is not allowed for this card',
};

const liveTexts: Record<LiveState, string> = {
  connecting: 'Reconnecting to live updates…',
  live: '● Live',
  offline: 'Offline: updates resume when you are back online',
  'signed-out': '',
};

if (!currentUser()) location.replace(signInHere());

function showStatus(current: Order): void {
  badge.textContent = statusLabels[current.status] ?? current.status;
  badge.className = `badge fs-6 text-bg-${statusColors[current.status] ?? 'secondary'}`;
  badge.dataset.status = current.status;
}

function remaining(deadline: string): string {
  const ms = new Date(deadline).getTime() - Date.now();
  if (ms <= 0) return '0:00';
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

function deadlineBox(current: Order): HTMLElement | null {
  if (!payable(current) || !current.deadline) return null;
  const clock = h('strong', { id: 'countdown' }, remaining(current.deadline));
  const box = h(
    'div',
    { class: 'alert alert-warning d-flex align-items-center gap-2', id: 'deadline' },
    'Your items are reserved. Pay within ',
    clock,
    ` (until ${dateTime(current.deadline)}).`,
  );
  clearInterval(countdown);
  countdown = setInterval(() => {
    clock.textContent = remaining(current.deadline!);
    if (new Date(current.deadline!).getTime() <= Date.now()) {
      clearInterval(countdown);
      fill(box, 'The time to pay is up: the order is being closed and its items released.');
      document.getElementById('pay-form')?.remove();
    }
  }, 1_000);
  return box;
}

function payForm(current: Order): HTMLElement {
  const field = (name: string, label: string, attributes: Record<string, string | number>) =>
    h(
      'div',
      { class: 'mb-3' },
      h('label', { class: 'form-label', for: `card-${name}` }, label),
      h('input', { class: 'form-control', id: `card-${name}`, name, ...attributes }),
    );
  const form = h(
    'form',
    { id: 'pay-form', novalidate: true, class: 'card card-body mb-4' },
    h('h2', { class: 'h5' }, 'Pay by card'),
    payNotice
      ? h(
          'div',
          { class: `alert alert-${payNotice.kind}`, id: 'pay-notice', role: 'alert' },
          payNotice.text,
        )
      : null,
    field('number', 'Card number', {
      inputmode: 'numeric',
      autocomplete: 'cc-number',
      maxlength: 23,
      'aria-describedby': 'card-hint',
    }),
    h(
      'div',
      { class: 'row g-3' },
      h(
        'div',
        { class: 'col-6' },
        field('expiry', 'Expiry (MM/YY)', {
          autocomplete: 'cc-exp',
          maxlength: 7,
          placeholder: 'MM/YY',
        }),
      ),
      h(
        'div',
        { class: 'col-6' },
        field('cvc', 'Security code', {
          inputmode: 'numeric',
          autocomplete: 'cc-csc',
          maxlength: 4,
        }),
      ),
    ),
    field('holder', 'Name on the card (optional)', { autocomplete: 'cc-name', maxlength: 100 }),
    h(
      'p',
      { class: 'form-text', id: 'card-hint' },
      'This is a sandbox: no money moves. Test cards: ',
      testCards.map((card) => `${card.number} (${card.outcome})`).join(', '),
      '; any future expiry and any 3 digits.',
    ),
    h(
      'button',
      { class: 'btn btn-primary btn-lg', type: 'submit' },
      `Pay ${money(current.totalMinor, current.currency)}`,
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearProblems(form);
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
    const checked = checkCard({
      number: value('number'),
      expiry: value('expiry'),
      cvc: value('cvc'),
      holder: value('holder'),
    });
    if ('problems' in checked) {
      for (const [name, message] of Object.entries(checked.problems))
        fieldProblem(form, name, message);
      form.querySelector<HTMLElement>('.is-invalid')?.focus();
      return;
    }
    // One key per attempt with this card, kept until its answer: a retry after a lost answer
    // is the same payment, never a second charge.
    payNotice = undefined;
    const keyName = `mercado.payKey.${current.id}`;
    const key = sessionStorage.getItem(keyName) ?? crypto.randomUUID();
    sessionStorage.setItem(keyName, key);
    void busy(form, async () => {
      try {
        const answer = await payOrder(current.id, await encryptCard(checked.card), key);
        sessionStorage.removeItem(keyName);
        payNotice =
          answer.status === 200
            ? { kind: 'success', text: 'Payment approved.' }
            : {
                kind: 'info',
                text: 'Your payment is being processed: this page updates by itself.',
              };
        await refresh();
      } catch (error) {
        const problem = error as ApiError;
        if (problem.status !== 0 && problem.status < 500) sessionStorage.removeItem(keyName);
        if (problem.code === 'payment_declined') {
          payNotice = {
            kind: 'danger',
            text: `Payment declined: ${declineReasons[reasonOf(problem)] ?? reasonOf(problem)}. Try another card.`,
          };
        } else if (problem.code === 'unknown_key' || problem.code === 'unreadable_card') {
          forgetKeys();
          payNotice = {
            kind: 'danger',
            text: 'The payment service changed its key: please pay again.',
          };
        } else {
          payNotice = { kind: 'danger', text: problem.message };
        }
        await refresh();
      }
    });
  });
  return form;
}

function reasonOf(problem: ApiError): string {
  const reason = problem.body.reason;
  return typeof reason === 'string' ? reason : problem.message;
}

async function payCodeBox(current: Order): Promise<HTMLElement | null> {
  if (!payable(current) || !current.payCode) return null;
  const code = `${current.payCode.slice(0, 4)}-${current.payCode.slice(4)}`;
  const image = h('img', {
    alt: `QR code of the pay code ${code}`,
    width: 144,
    height: 144,
    id: 'pay-qr',
  });
  void import('qrcode').then(({ default: qrcode }) =>
    qrcode.toDataURL(current.payCode!, { margin: 1, width: 144 }).then((url) => (image.src = url)),
  );
  return h(
    'div',
    { class: 'card card-body mb-4 d-flex flex-row gap-3 align-items-center' },
    image,
    h(
      'div',
      {},
      h('h2', { class: 'h6' }, 'Or pay at a shop'),
      h(
        'p',
        { class: 'mb-1' },
        'Show this code at the till: ',
        h('strong', { id: 'pay-code', class: 'font-monospace fs-5' }, code),
      ),
      h(
        'p',
        { class: 'small text-body-secondary mb-0' },
        'This page turns paid as soon as the terminal approves.',
      ),
    ),
  );
}

function details(current: Order): HTMLElement[] {
  const address = current.shippingAddress;
  return [
    h(
      'table',
      { class: 'table', id: 'order-lines' },
      h('caption', { class: 'visually-hidden' }, 'What you ordered'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Product'),
          h('th', { scope: 'col', class: 'text-end' }, 'Quantity'),
          h('th', { scope: 'col', class: 'text-end' }, 'Total'),
        ),
      ),
      h(
        'tbody',
        {},
        ...current.lines.map((line) =>
          h(
            'tr',
            {},
            h('td', {}, line.name),
            h('td', { class: 'text-end' }, String(line.quantity)),
            h('td', { class: 'text-end' }, money(line.lineTotalMinor, current.currency)),
          ),
        ),
      ),
      h(
        'tfoot',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'row', colspan: 2 }, 'Total'),
          h(
            'td',
            { class: 'text-end fw-bold', id: 'order-total' },
            money(current.totalMinor, current.currency),
          ),
        ),
        current.refundedMinor > 0
          ? h(
              'tr',
              {},
              h('th', { scope: 'row', colspan: 2 }, 'Refunded'),
              h(
                'td',
                { class: 'text-end', id: 'order-refunded' },
                money(current.refundedMinor, current.currency),
              ),
            )
          : null,
      ),
    ),
    h(
      'div',
      { class: 'row g-4' },
      h(
        'section',
        { class: 'col-md-6', 'aria-labelledby': 'ship-title' },
        h('h2', { class: 'h6', id: 'ship-title' }, `Ships from ${current.region} to`),
        h(
          'address',
          {},
          address.name ?? '',
          h('br'),
          address.line1 ?? '',
          address.line2 ? h('br') : null,
          address.line2 ?? '',
          h('br'),
          `${address.postalCode ?? ''} ${address.city ?? ''}`,
          h('br'),
          address.country ?? '',
        ),
      ),
      h(
        'section',
        { class: 'col-md-6', 'aria-labelledby': 'timeline-title' },
        h('h2', { class: 'h6', id: 'timeline-title' }, 'Timeline'),
        h(
          'ol',
          { class: 'list-unstyled small', id: 'timeline' },
          ...current.history.map((step) =>
            h(
              'li',
              { 'data-to': step.to },
              h('time', { datetime: step.at }, dateTime(step.at)),
              ' — ',
              statusLabels[step.to] ?? step.to,
            ),
          ),
        ),
      ),
    ),
    current.payments.length > 0
      ? h(
          'section',
          { 'aria-labelledby': 'payments-title' },
          h('h2', { class: 'h6', id: 'payments-title' }, 'Payment attempts'),
          h(
            'ul',
            { class: 'small', id: 'payments' },
            ...current.payments.map((payment) =>
              h(
                'li',
                {},
                `${dateTime(payment.at)}: ${payment.outcome}`,
                payment.reason ? ` (${declineReasons[payment.reason] ?? payment.reason})` : '',
                payment.cardLast4
                  ? `, ${payment.cardBrand ?? 'card'} ending ${payment.cardLast4}`
                  : '',
              ),
            ),
          ),
        )
      : h('span'),
    current.refunds.length > 0
      ? h(
          'section',
          { 'aria-labelledby': 'refunds-title' },
          h('h2', { class: 'h6', id: 'refunds-title' }, 'Refunds'),
          h(
            'ul',
            { class: 'small', id: 'refunds' },
            ...current.refunds.map((refund) =>
              h(
                'li',
                { 'data-refund': refund.status },
                `${money(refund.amountMinor, current.currency)} — ${refundReasons[refund.reason as RefundReason]?.toLowerCase() ?? refund.reason} (${refundStatuses[refund.status] ?? refund.status})`,
              ),
            ),
          ),
        )
      : h('span'),
  ];
}

async function render(current: Order): Promise<void> {
  showStatus(current);
  document.title = `Order ${current.id.slice(0, 8)} — Mercado`;
  byId('order-title').textContent = `Order ${current.id.slice(0, 8)}`;
  const cancel =
    current.status === 'awaiting_payment' || current.status === 'payment_failed'
      ? h(
          'button',
          { class: 'btn btn-outline-danger mb-4', type: 'button', id: 'cancel-order' },
          'Cancel this order',
        )
      : null;
  cancel?.addEventListener('click', () => {
    if (!confirm('Cancel this order? Its items go back on sale.')) return;
    cancel.disabled = true;
    cancelOrder(current.id).then(render, (error: unknown) => {
      cancel.disabled = false;
      toast((error as ApiError).message, 'error');
    });
  });
  const failure =
    current.status === 'payment_failed' && current.failureReason && !payNotice
      ? h(
          'div',
          { class: 'alert alert-danger', id: 'failure' },
          `The last payment failed: ${declineReasons[current.failureReason] ?? current.failureReason}. You can pay again with another card.`,
        )
      : null;
  fill(
    root,
    deadlineBox(current),
    failure,
    payable(current) ? payForm(current) : null,
    await payCodeBox(current),
    ...details(current),
    cancel,
  );
  if (!payable(current)) clearInterval(countdown);
}

async function refresh(): Promise<void> {
  try {
    await render(await getOrder(id));
  } catch (error) {
    toast((error as ApiError).message, 'error');
  }
}

async function start(): Promise<void> {
  try {
    await render(await getOrder(id));
  } catch (error) {
    const problem = error as ApiError;
    badge.textContent = 'Not found';
    fill(
      root,
      h(
        'p',
        {},
        problem.status === 404 || problem.status === 400
          ? 'There is no such order of yours.'
          : 'The order could not be loaded.',
        ' ',
        h('a', { href: '/orders' }, 'Your orders'),
      ),
    );
    return;
  } finally {
    root.setAttribute('aria-busy', 'false');
  }
  followOrders(
    [id],
    // The last payment's notice stays until the next attempt: the event of that very payment
    // may come before or after its HTTP answer.
    () => void refresh(),
    (state) => {
      liveState.textContent = liveTexts[state];
      liveState.dataset.state = state;
    },
  );
}

void start();
