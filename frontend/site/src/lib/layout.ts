import { h } from './dom.js';
import { listProducts } from './catalog-api.js';
import { getCart, type Cart } from './cart-api.js';
import { cartToken, currentUser, onSessionChange, signOut } from './session.js';

/**
 * The header every page shares: the shop's name, the search box (suggestions as you type, from the
 * catalog itself), the cart with its count, and the account: sign in and register, or the
 * shopper's name, the seller's and the admin's back office, and sign out.
 * The search goes to the catalog page with `q`.
 */
export interface LayoutOptions {
  /** The search box's text (the catalog's current `q`). */
  q?: string;
  /** Called instead of navigating when the page is the catalog itself. */
  onSearch?: (q: string) => void;
}

export function mountLayout(options: LayoutOptions = {}): { search: HTMLInputElement } {
  const header = document.getElementById('site-header');
  if (!header) throw new Error('the page has no #site-header');
  const suggestions = h('datalist', { id: 'search-suggestions' });
  const search = h('input', {
    id: 'search',
    class: 'form-control',
    type: 'search',
    name: 'q',
    placeholder: 'Search products',
    autocomplete: 'off',
    list: 'search-suggestions',
    value: options.q ?? '',
    maxlength: 200,
  });
  const form = h(
    'form',
    { class: 'd-flex flex-grow-1 mx-lg-4 my-2 my-lg-0', role: 'search', action: '/' },
    h('label', { class: 'visually-hidden', for: 'search' }, 'Search products'),
    search,
    suggestions,
    h('button', { class: 'btn btn-light ms-2', type: 'submit' }, 'Search'),
  );
  form.addEventListener('submit', (event) => {
    if (!options.onSearch) return;
    event.preventDefault();
    options.onSearch(search.value.trim());
  });
  let typed: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    const q = search.value.trim();
    if (q.length < 2) return;
    timer = setTimeout(() => {
      typed?.abort();
      typed = new AbortController();
      listProducts({ q, limit: 6 }, typed.signal).then(
        (page) =>
          suggestions.replaceChildren(
            ...[...new Set(page.items.map((item) => item.name))].map((name) =>
              h('option', { value: name }),
            ),
          ),
        () => undefined,
      );
    }, 150);
  });
  const cartCount = h('span', { class: 'badge text-bg-light ms-1', id: 'cart-count' });
  const account = h('ul', { class: 'navbar-nav flex-row flex-wrap gap-3 align-items-center' });
  const link = (href: string, text: string) =>
    h('li', { class: 'nav-item' }, h('a', { class: 'nav-link', href }, text));
  function renderAccount(): void {
    const user = currentUser();
    const cart = h(
      'li',
      { class: 'nav-item' },
      h('a', { class: 'nav-link', href: '/cart' }, 'Cart', cartCount),
    );
    if (!user) {
      account.replaceChildren(cart, link('/signin', 'Sign in'), link('/register', 'Register'));
      return;
    }
    const out = h('button', { class: 'btn btn-link nav-link', type: 'button' }, 'Sign out');
    out.addEventListener('click', () => {
      void signOut().then(() => location.assign('/'));
    });
    account.replaceChildren(
      cart,
      link('/orders', 'My orders'),
      ...(user.roles.includes('seller') ? [link('/seller', 'My products')] : []),
      ...(user.roles.includes('admin') ? [link('/admin', 'Back office')] : []),
      h('li', { class: 'nav-item navbar-text small' }, user.name),
      h('li', { class: 'nav-item' }, out),
    );
  }
  renderAccount();
  onSessionChange(renderAccount);
  window.addEventListener('mercado:cart', (event) => {
    const cart = (event as CustomEvent<Cart>).detail;
    cartCount.textContent = cart.itemCount > 0 ? String(cart.itemCount) : '';
  });
  // The count on every page, for whoever has a cart (a guest without a token has none yet).
  if ((currentUser() || cartToken()) && location.pathname !== '/cart') {
    getCart().catch(() => undefined);
  }
  header.replaceChildren(
    h(
      'nav',
      { class: 'navbar navbar-expand-lg navbar-dark site-navbar', 'aria-label': 'Main' },
      h(
        'div',
        { class: 'container flex-wrap gap-2' },
        h('a', { class: 'navbar-brand fw-bold', href: '/' }, 'Mercado'),
        form,
        account,
      ),
    ),
  );
  return { search };
}
