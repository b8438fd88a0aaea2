import { h } from './dom.js';
import { listProducts } from './catalog-api.js';

/**
 * The header every page shares: the shop's name, the search box (suggestions as you type, from the
 * catalog itself). The search goes to the catalog page with `q`.
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
  header.replaceChildren(
    h(
      'nav',
      { class: 'navbar navbar-expand-lg navbar-dark bg-primary', 'aria-label': 'Main' },
      h(
        'div',
        { class: 'container flex-wrap' },
        h('a', { class: 'navbar-brand fw-bold', href: '/' }, 'Mercado'),
        form,
      ),
    ),
  );
  return { search };
}
