import { signInHere } from '../lib/account.js';
import type { ApiError } from '../lib/api.js';
import { getCart, lineProblems, setCartRegion, type Cart } from '../lib/cart-api.js';
import { byId, fill, h } from '../lib/dom.js';
import { busy, clearProblems, fieldProblem, showProblem } from '../lib/forms.js';
import { money } from '../lib/format.js';
import { mountLayout } from '../lib/layout.js';
import { placeOrder } from '../lib/orders-api.js';
import { chooseRegion, regionsFrom } from '../lib/region.js';
import { currentUser } from '../lib/session.js';
import { toast } from '../lib/toast.js';

/**
 * Checkout: the shipping address, the region the order ships from (the cart's), the review of
 * the lines, then "place order": orders reserves the stock and the order waits for its payment
 * (its page: the countdown to its deadline, the card form, the live status). The request carries
 * an Idempotency-Key kept in this tab until an answer comes, so a double click or a retry after a
 * lost answer places one order, never two.
 */
mountLayout();
const form = byId<HTMLFormElement>('checkout-form');
const review = byId('review');
const regionSelect = byId<HTMLSelectElement>('ship-region');
const keyName = 'mercado.checkoutKey';
const fields = ['name', 'line1', 'line2', 'city', 'postalCode', 'country'] as const;
const addressKey = 'mercado.shippingAddress';
let cart: Cart | undefined;

if (!currentUser()) location.replace(signInHere());

function renderReview(current: Cart): void {
  cart = current;
  const currency = current.currency ?? 'EUR';
  if (current.lines.length === 0) {
    fill(review, h('p', {}, 'Your cart is empty. ', h('a', { href: '/' }, 'Browse the shop'), '.'));
    form.querySelector<HTMLButtonElement>('[type="submit"]')!.disabled = true;
    return;
  }
  fill(
    review,
    h(
      'ul',
      { class: 'list-group mb-3' },
      ...current.lines.map((line) =>
        h(
          'li',
          {
            class: 'list-group-item d-flex justify-content-between gap-2',
            'data-line': line.productId,
          },
          h(
            'div',
            {},
            h('div', {}, `${line.quantity} × ${line.name}`),
            line.problem
              ? h('div', { class: 'small text-danger' }, lineProblems[line.problem] ?? line.problem)
              : null,
          ),
          h('span', {}, money(line.lineTotalMinor, currency)),
        ),
      ),
      h(
        'li',
        { class: 'list-group-item d-flex justify-content-between fw-bold' },
        h('span', {}, 'Total'),
        h('span', { id: 'checkout-total' }, money(current.totalMinor, currency)),
      ),
    ),
    current.checkoutReady
      ? null
      : h(
          'p',
          { class: 'text-danger', id: 'checkout-blocked' },
          'Some lines cannot be ordered as they are: ',
          h('a', { href: '/cart' }, 'fix them in your cart'),
          '.',
        ),
  );
  form.querySelector<HTMLButtonElement>('[type="submit"]')!.disabled = !current.checkoutReady;
}

async function load(): Promise<void> {
  try {
    const current = await getCart();
    renderReview(current);
    const first = current.lines[0];
    const regions = first ? await regionsFrom(first.productId) : [current.region];
    regionSelect.replaceChildren(
      ...regions.map((region) =>
        h('option', { value: region, selected: region === current.region }, region),
      ),
    );
  } catch (error) {
    fill(review, h('p', { class: 'text-danger' }, 'Your cart could not be loaded.'));
    toast((error as ApiError).message, 'error');
  } finally {
    review.setAttribute('aria-busy', 'false');
  }
}

regionSelect.addEventListener('change', () => {
  chooseRegion(regionSelect.value);
  review.setAttribute('aria-busy', 'true');
  setCartRegion(regionSelect.value)
    .then(renderReview, (error: unknown) => toast((error as ApiError).message, 'error'))
    .finally(() => review.setAttribute('aria-busy', 'false'));
});

// The last address used in this browser, filled in again.
try {
  const saved = JSON.parse(localStorage.getItem(addressKey) ?? '{}') as Record<string, string>;
  for (const name of fields) {
    const input = form.elements.namedItem(name) as HTMLInputElement | null;
    if (input && saved[name]) input.value = saved[name];
  }
} catch {
  // Nothing saved, or something else: the form starts empty.
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearProblems(form);
  const address: Record<string, string> = {};
  for (const name of fields) {
    const value = (form.elements.namedItem(name) as HTMLInputElement).value.trim();
    if (value) address[name] = name === 'country' ? value.toUpperCase() : value;
  }
  const missing = {
    name: 'Enter the name to ship to.',
    line1: 'Enter the street and number.',
    city: 'Enter the city.',
    postalCode: 'Enter the postal code.',
  } as const;
  let problems = false;
  for (const [name, message] of Object.entries(missing)) {
    if (!address[name]) problems = fieldProblem(form, name, message) || problems;
  }
  if (!/^[A-Z]{2}$/.test(address.country ?? '')) {
    problems = fieldProblem(form, 'country', 'Two letters, as ES or FR.') || problems;
  }
  if (problems) {
    form.querySelector<HTMLElement>('.is-invalid')?.focus();
    return;
  }
  if (!cart?.checkoutReady) return;
  const key = sessionStorage.getItem(keyName) ?? crypto.randomUUID();
  sessionStorage.setItem(keyName, key);
  void busy(form, async () => {
    try {
      const order = await placeOrder(address, key);
      sessionStorage.removeItem(keyName);
      localStorage.setItem(addressKey, JSON.stringify(address));
      location.assign(`/order?id=${encodeURIComponent(order.id)}`);
    } catch (error) {
      const problem = error as ApiError;
      // A refusal is this request's answer: the next attempt is a new request.
      if (problem.status >= 400 && problem.status < 500) sessionStorage.removeItem(keyName);
      showProblem(form, error);
      if (problem.code === 'insufficient_stock' || problem.code === 'cart_empty') {
        void getCart().then(renderReview, () => undefined);
      }
    }
  });
});

void load();
