import type { ApiError } from '../lib/api.js';
import {
  categoryTree,
  listProducts,
  productStock,
  type CatalogQuery,
  type CategoryNode,
  type ProductSort,
  type ProductSummary,
} from '../lib/catalog-api.js';
import { byId, fill, h } from '../lib/dom.js';
import { minorDigits, money, parseMajor } from '../lib/format.js';
import { mountLayout } from '../lib/layout.js';
import { chooseRegion, currentRegion, regionsFrom } from '../lib/region.js';
import { toast } from '../lib/toast.js';

/**
 * The catalog: search, categories, price range and sort, all in the URL (`/?q=&category=&minPrice=
 * &maxPrice=&sort=`), so back and forward work and a link can be shared; "load more" follows the
 * API's cursor. Each card shows the price in the shopper's locale and the stock in their region.
 */
const pageSize = 12;
const results = byId('results');
const status = byId('results-status');
const loadMore = byId<HTMLButtonElement>('load-more');
const title = byId('results-title');
const sort = byId<HTMLSelectElement>('sort');
const priceForm = byId<HTMLFormElement>('price-filter');
const minInput = byId<HTMLInputElement>('min-price');
const maxInput = byId<HTMLInputElement>('max-price');
const priceProblem = byId('price-problem');
const regionSelect = byId<HTMLSelectElement>('region');
const sorts: readonly ProductSort[] = ['relevance', 'price_asc', 'price_desc', 'newest'];
/** The price filter's currency: the catalog's (the demo shop's is EUR). */
let priceCurrency = 'EUR';
let categories: CategoryNode[] = [];
let running: AbortController | undefined;
let cursor: string | null = null;

function fromUrl(): CatalogQuery {
  const params = new URLSearchParams(location.search);
  const whole = (name: string) => {
    const value = params.get(name);
    return value !== null && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
  };
  const chosen = params.get('sort') as ProductSort | null;
  return {
    ...(params.get('q') ? { q: params.get('q')! } : {}),
    ...(params.get('category') ? { category: params.get('category')! } : {}),
    ...(whole('minPrice') !== undefined ? { minPrice: whole('minPrice')! } : {}),
    ...(whole('maxPrice') !== undefined ? { maxPrice: whole('maxPrice')! } : {}),
    ...(chosen && sorts.includes(chosen) ? { sort: chosen } : {}),
  };
}

/** The query without some of its parameters. */
function without(catalog: CatalogQuery, ...names: Array<keyof CatalogQuery>): CatalogQuery {
  const rest = { ...catalog };
  for (const name of names) delete rest[name];
  return rest;
}

function urlOf(catalog: CatalogQuery): string {
  const params = new URLSearchParams();
  for (const name of ['q', 'category', 'minPrice', 'maxPrice', 'sort'] as const) {
    const value = catalog[name];
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `/?${text}` : '/';
}

/** A new query: a new history entry, then its first page. */
function go(catalog: CatalogQuery): void {
  history.pushState(null, '', urlOf(catalog));
  void show(catalog);
}

function findCategory(slug: string, nodes = categories): CategoryNode | undefined {
  for (const node of nodes) {
    if (node.slug === slug) return node;
    const found = findCategory(slug, node.children);
    if (found) return found;
  }
  return undefined;
}

function renderCategories(catalog: CatalogQuery): void {
  const list = byId('categories');
  const link = (label: string, slug: string | undefined) => {
    const rest = without(catalog, 'category');
    const target = slug ? { ...rest, category: slug } : rest;
    const anchor = h(
      'a',
      {
        class: 'd-block py-1',
        href: urlOf(target),
        'aria-current': catalog.category === slug ? 'page' : undefined,
      },
      label,
    );
    anchor.addEventListener('click', (event) => {
      event.preventDefault();
      go(target);
    });
    return anchor;
  };
  const branch = (nodes: CategoryNode[]): HTMLUListElement =>
    h(
      'ul',
      { class: 'list-unstyled ps-3' },
      ...nodes.map((node) =>
        h(
          'li',
          {},
          link(node.name, node.slug),
          node.children.length > 0 ? branch(node.children) : null,
        ),
      ),
    );
  fill(
    list,
    h('li', {}, link('All products', undefined)),
    ...categories.map((node) =>
      h(
        'li',
        {},
        link(node.name, node.slug),
        node.children.length > 0 ? branch(node.children) : null,
      ),
    ),
  );
}

function skeletons(count: number): HTMLElement[] {
  return Array.from({ length: count }, () =>
    h(
      'div',
      { class: 'col', 'aria-hidden': 'true' },
      h(
        'div',
        { class: 'card h-100' },
        h('div', { class: 'skeleton skeleton-image' }),
        h(
          'div',
          { class: 'card-body' },
          h('div', { class: 'skeleton skeleton-line mb-2 w-75' }),
          h('div', { class: 'skeleton skeleton-line w-50' }),
        ),
      ),
    ),
  );
}

function availabilityText(available: number, threshold: number, region: string): string {
  if (available <= 0) return `Out of stock in ${region}`;
  if (available <= threshold) return `Only ${available} left in ${region}`;
  return `In stock in ${region}`;
}

function card(product: ProductSummary): HTMLElement {
  const availability = h(
    'p',
    { class: 'card-text small text-body-secondary mb-0', 'data-availability': product.id },
    'Checking stock…',
  );
  const image = product.imageUrls[0];
  void showAvailability(product.id, availability);
  return h(
    'div',
    { class: 'col' },
    h(
      'article',
      { class: 'card h-100 product-card shadow-sm', 'data-product': product.id },
      image
        ? h('img', {
            class: 'card-img-top',
            src: image,
            alt: '',
            loading: 'lazy',
            width: 320,
            height: 160,
          })
        : h('div', { class: 'card-img-top' }),
      h(
        'div',
        { class: 'card-body d-flex flex-column' },
        h(
          'h2',
          { class: 'h6 card-title' },
          h(
            'a',
            {
              class: 'stretched-link text-decoration-none',
              href: `/product?id=${encodeURIComponent(product.id)}`,
            },
            product.name,
          ),
        ),
        h(
          'p',
          { class: 'fs-5 fw-semibold mb-1 mt-auto' },
          money(product.priceMinor, product.currency),
        ),
        availability,
      ),
    ),
  );
}

async function showAvailability(productId: string, target: HTMLElement): Promise<void> {
  try {
    const stock = await productStock(productId);
    const region = currentRegion() ?? stock.regions[0]?.region;
    const level = stock.regions.find((entry) => entry.region === region);
    target.textContent = level
      ? availabilityText(level.available, stock.lowStockThreshold, level.region)
      : 'Not sold in your region';
    target.classList.toggle('text-danger', !level || level.available <= 0);
  } catch {
    target.textContent = 'Stock unknown right now';
  }
}

function heading(catalog: CatalogQuery): string {
  if (catalog.q) return `Results for “${catalog.q}”`;
  if (catalog.category) return findCategory(catalog.category)?.name ?? 'Products';
  return 'All products';
}

async function show(catalog: CatalogQuery, more = false): Promise<void> {
  running?.abort();
  const controller = new AbortController();
  running = controller;
  title.textContent = heading(catalog);
  document.title = `${heading(catalog)} — Mercado`;
  sort.value = catalog.sort ?? '';
  const major = (minor: number | undefined) =>
    minor === undefined ? '' : String(minor / 10 ** minorDigits(priceCurrency));
  minInput.value = major(catalog.minPrice);
  maxInput.value = major(catalog.maxPrice);
  priceProblem.textContent = '';
  renderCategories(catalog);
  if (!more) {
    cursor = null;
    fill(results, ...skeletons(6));
  }
  results.setAttribute('aria-busy', 'true');
  loadMore.disabled = true;
  status.textContent = more ? 'Loading more products…' : 'Loading products…';
  try {
    const page = await listProducts(
      { ...catalog, limit: pageSize, ...(more && cursor ? { cursor } : {}) },
      controller.signal,
    );
    if (controller.signal.aborted) return;
    if (!more) results.replaceChildren();
    if (page.items[0]) priceCurrency = page.items[0].currency;
    results.append(...page.items.map(card));
    cursor = page.nextCursor;
    loadMore.hidden = cursor === null;
    const shown = results.querySelectorAll('[data-product]').length;
    status.textContent =
      shown === 0
        ? 'No products match. Try fewer words or another category.'
        : `${shown} product${shown === 1 ? '' : 's'} shown${cursor ? '' : ', all there is'}.`;
    if (page.items[0]) void fillRegions(page.items[0].id);
  } catch (error) {
    if ((error as Error).name === 'AbortError') return;
    if (!more) results.replaceChildren();
    const problem = error as ApiError;
    const priceField = problem.errors?.find((field) => /Price$/.test(field.path));
    if (priceField)
      priceProblem.textContent = `${priceField.path === 'minPrice' ? 'From' : 'To'}: ${priceField.message}`;
    status.textContent = 'The products could not be loaded.';
    toast(problem.message || 'The products could not be loaded.', 'error');
  } finally {
    if (running === controller) {
      results.setAttribute('aria-busy', 'false');
      loadMore.disabled = false;
    }
  }
}

async function fillRegions(productId: string): Promise<void> {
  if (regionSelect.options.length > 0) return;
  try {
    const regions = await regionsFrom(productId);
    const region = currentRegion() ?? regions[0];
    regionSelect.replaceChildren(
      ...regions.map((name) => h('option', { value: name, selected: name === region }, name)),
    );
  } catch {
    // The cards say the stock is unknown; the selector stays empty.
  }
}

regionSelect.addEventListener('change', () => {
  chooseRegion(regionSelect.value);
  for (const target of results.querySelectorAll<HTMLElement>('[data-availability]')) {
    void showAvailability(target.dataset.availability!, target);
  }
});

sort.addEventListener('change', () => {
  const rest = without(fromUrl(), 'sort');
  go(sort.value ? { ...rest, sort: sort.value as ProductSort } : rest);
});

priceForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const min = parseMajor(minInput.value, priceCurrency);
  const max = parseMajor(maxInput.value, priceCurrency);
  if (Number.isNaN(min) || Number.isNaN(max)) {
    priceProblem.textContent = 'Prices are amounts such as 12 or 12.50.';
    (Number.isNaN(min) ? minInput : maxInput).focus();
    return;
  }
  if (min !== undefined && max !== undefined && min > max) {
    priceProblem.textContent = '“From” must not be above “To”.';
    minInput.focus();
    return;
  }
  const rest = without(fromUrl(), 'minPrice', 'maxPrice');
  go({
    ...rest,
    ...(min !== undefined ? { minPrice: min } : {}),
    ...(max !== undefined ? { maxPrice: max } : {}),
  });
});

loadMore.addEventListener('click', () => void show(fromUrl(), true));
window.addEventListener('popstate', () => {
  layout.search.value = fromUrl().q ?? '';
  void show(fromUrl());
});

const layout = mountLayout({
  q: fromUrl().q ?? '',
  onSearch(q) {
    const previousSort = fromUrl().sort;
    const rest = without(fromUrl(), 'q', 'sort');
    const keep = previousSort && previousSort !== 'relevance' ? { sort: previousSort } : {};
    go(q ? { ...rest, ...keep, q } : { ...rest, ...keep });
  },
});

void show(fromUrl());
categoryTree().then(
  (tree) => {
    categories = tree.items;
    renderCategories(fromUrl());
    title.textContent = heading(fromUrl());
  },
  () => toast('The categories could not be loaded.', 'error'),
);
