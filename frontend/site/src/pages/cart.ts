import type { ApiError } from '../lib/api.js';
import {
  getCart,
  lineProblems,
  removeLine,
  setCartRegion,
  setQuantity,
  type Cart,
  type CartLine,
} from '../lib/cart-api.js';
import { byId, fill, h } from '../lib/dom.js';
import { money } from '../lib/format.js';
import { mountLayout } from '../lib/layout.js';
import { chooseRegion, regionsFrom } from '../lib/region.js';
import { currentUser } from '../lib/session.js';
import { toast } from '../lib/toast.js';

/**
 * The cart, a guest's (by its token) or the signed-in shopper's: quantities changed and lines
 * removed in place, every line checked by orders against the catalog and the stock of the cart's
 * region (a problem is shown on its line), the total, and the region it ships from.
 */
mountLayout();
const root = byId('cart');
const status = byId('cart-status');

function lineRow(cart: Cart, line: CartLine): HTMLTableRowElement {
  const inputId = `quantity-${line.productId}`;
  const quantity = h('input', {
    class: `form-control form-control-sm cart-quantity${line.problem ? ' is-invalid' : ''}`,
    id: inputId,
    type: 'number',
    min: 1,
    max: 10_000,
    value: line.quantity,
    inputmode: 'numeric',
    'aria-describedby': line.problem ? `${inputId}-problem` : undefined,
  });
  const remove = h(
    'button',
    { class: 'btn btn-sm btn-outline-danger', type: 'button' },
    'Remove',
    h('span', { class: 'visually-hidden' }, ` ${line.name}`),
  );
  quantity.addEventListener('change', () => {
    const wanted = Number(quantity.value);
    if (!Number.isInteger(wanted) || wanted < 1 || wanted > 10_000) {
      quantity.value = String(line.quantity);
      toast('A quantity from 1 to 10,000.', 'error');
      return;
    }
    void change(() => setQuantity(line.productId, wanted), inputId);
  });
  remove.addEventListener('click', () => void change(() => removeLine(line.productId)));
  return h(
    'tr',
    { 'data-line': line.productId },
    h(
      'th',
      { scope: 'row' },
      h('a', { href: `/product?id=${encodeURIComponent(line.productId)}` }, line.name),
      h('div', { class: 'small text-body-secondary fw-normal' }, line.sku),
      line.problem
        ? h(
            'div',
            {
              class: 'small text-danger fw-normal',
              id: `${inputId}-problem`,
              'data-problem': line.problem,
            },
            lineProblems[line.problem] ?? line.problem,
            line.problem === 'insufficient_stock' ? ` (${line.available} available)` : '',
          )
        : null,
    ),
    h('td', { class: 'text-end' }, money(line.unitPriceMinor, cart.currency ?? 'EUR')),
    h(
      'td',
      {},
      h('label', { class: 'visually-hidden', for: inputId }, `Quantity of ${line.name}`),
      quantity,
    ),
    h('td', { class: 'text-end' }, money(line.lineTotalMinor, cart.currency ?? 'EUR')),
    h('td', { class: 'text-end' }, remove),
  );
}

async function regionPicker(cart: Cart): Promise<HTMLElement | null> {
  const first = cart.lines[0];
  if (!first) return null;
  const regions = await regionsFrom(first.productId).catch(() => [cart.region]);
  const select = h(
    'select',
    { class: 'form-select form-select-sm w-auto', id: 'cart-region' },
    ...regions.map((region) =>
      h('option', { value: region, selected: region === cart.region }, region),
    ),
  );
  select.addEventListener('change', () => {
    chooseRegion(select.value);
    void change(() => setCartRegion(select.value), 'cart-region');
  });
  return h(
    'div',
    { class: 'd-flex align-items-center gap-2 mb-3' },
    h('label', { class: 'form-label mb-0', for: 'cart-region' }, 'Ships from'),
    select,
  );
}

async function render(cart: Cart, focusId?: string): Promise<void> {
  if (cart.lines.length === 0) {
    fill(root, h('p', {}, 'Your cart is empty. ', h('a', { href: '/' }, 'Browse the shop'), '.'));
    status.textContent = '';
    return;
  }
  const currency = cart.currency ?? 'EUR';
  fill(
    root,
    await regionPicker(cart),
    h(
      'div',
      { class: 'table-responsive' },
      h(
        'table',
        { class: 'table align-middle', id: 'cart-lines' },
        h('caption', { class: 'visually-hidden' }, 'Products in your cart'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Product'),
            h('th', { scope: 'col', class: 'text-end' }, 'Price'),
            h('th', { scope: 'col' }, 'Quantity'),
            h('th', { scope: 'col', class: 'text-end' }, 'Total'),
            h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
          ),
        ),
        h('tbody', {}, ...cart.lines.map((line) => lineRow(cart, line))),
        h(
          'tfoot',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'row', colspan: 3 }, `Total (${cart.itemCount} items)`),
            h(
              'td',
              { class: 'text-end fw-bold', id: 'cart-total' },
              money(cart.totalMinor, currency),
            ),
            h('td', {}),
          ),
        ),
      ),
    ),
    cart.checkoutReady
      ? currentUser()
        ? h(
            'a',
            { class: 'btn btn-primary btn-lg', href: '/checkout', id: 'to-checkout' },
            'Check out',
          )
        : null
      : h(
          'p',
          { class: 'text-danger', id: 'cart-blocked' },
          'Fix the lines marked above before checking out.',
        ),
    currentUser()
      ? null
      : h(
          'p',
          { class: 'text-body-secondary' },
          'Your cart is kept in this browser. ',
          h('a', { href: '/signin?next=/cart' }, 'Sign in'),
          ' or ',
          h('a', { href: '/register?next=/cart' }, 'create an account'),
          ' to check out: it comes along.',
        ),
  );
  if (focusId) document.getElementById(focusId)?.focus();
}

async function change(action: () => Promise<Cart>, focusId?: string): Promise<void> {
  root.setAttribute('aria-busy', 'true');
  status.textContent = 'Updating your cart…';
  try {
    await render(await action(), focusId);
    status.textContent = 'Cart updated.';
  } catch (error) {
    const problem = error as ApiError;
    toast(
      problem.code === 'insufficient_stock'
        ? 'Not enough in stock for that quantity.'
        : problem.message,
      'error',
    );
    await render(await getCart(), focusId).catch(() => undefined);
    status.textContent = '';
  } finally {
    root.setAttribute('aria-busy', 'false');
  }
}

getCart().then(
  async (cart) => {
    await render(cart);
    root.setAttribute('aria-busy', 'false');
  },
  (error: unknown) => {
    fill(root);
    root.setAttribute('aria-busy', 'false');
    status.textContent = 'Your cart could not be loaded.';
    toast((error as ApiError).message, 'error');
  },
);
