import type { ApiError } from '../lib/api.js';
import { addToCart } from '../lib/cart-api.js';
import { getProduct, productStock, type Product, type ProductStock } from '../lib/catalog-api.js';
import { byId, fill, h } from '../lib/dom.js';
import { money } from '../lib/format.js';
import { mountLayout } from '../lib/layout.js';
import { chooseRegion, currentRegion } from '../lib/region.js';
import { toast } from '../lib/toast.js';

/**
 * A product (`/product?id=…`): its images, description and details, the stock in every region
 * (the shopper's own first), and "add to cart" with a quantity, which the cart checks against the
 * stock of the cart's region: a refusal is shown next to the button.
 */
mountLayout();
const root = byId('product');
const status = byId('product-status');
const id = new URLSearchParams(location.search).get('id') ?? '';

function gallery(product: Product): HTMLElement {
  const images = product.imageUrls.length > 0 ? product.imageUrls : [];
  if (images.length === 0)
    return h('div', { class: 'bg-light rounded p-5 text-center' }, 'No image');
  const main = h('img', {
    class: 'img-fluid rounded bg-light p-3 w-100 product-image',
    src: images[0],
    alt: product.name,
    width: 600,
    height: 400,
  });
  const thumbs = images.map((url, index) => {
    const button = h(
      'button',
      {
        class: 'btn btn-outline-secondary p-1',
        type: 'button',
        'aria-label': `Image ${index + 1} of ${images.length}`,
        'aria-pressed': index === 0 ? 'true' : 'false',
      },
      h('img', { src: url, alt: '', width: 64, height: 48 }),
    );
    button.addEventListener('click', () => {
      main.src = url;
      for (const other of button.parentElement?.children ?? []) {
        other.setAttribute('aria-pressed', other === button ? 'true' : 'false');
      }
    });
    return button;
  });
  return h(
    'div',
    {},
    main,
    images.length > 1 ? h('div', { class: 'd-flex gap-2 mt-2' }, ...thumbs) : null,
  );
}

function stockTable(stock: ProductStock, region: string | undefined): HTMLElement {
  const rows = [...stock.regions].sort((a, b) =>
    a.region === region ? -1 : b.region === region ? 1 : a.region.localeCompare(b.region),
  );
  return h(
    'table',
    { class: 'table table-sm w-auto', id: 'stock' },
    h('caption', {}, 'Stock per region'),
    h(
      'thead',
      {},
      h('tr', {}, h('th', { scope: 'col' }, 'Region'), h('th', { scope: 'col' }, 'Available')),
    ),
    h(
      'tbody',
      {},
      ...rows.map((level) =>
        h(
          'tr',
          {
            'data-region': level.region,
            class: level.region === region ? 'table-primary' : undefined,
          },
          h('td', {}, level.region, level.region === region ? ' (yours)' : ''),
          h('td', {}, level.available > 0 ? String(level.available) : 'Out of stock'),
        ),
      ),
    ),
  );
}

function details(product: Product): HTMLElement | null {
  const entries = Object.entries(product.attributes);
  if (entries.length === 0) return null;
  return h(
    'dl',
    { class: 'row small' },
    ...entries.flatMap(([name, value]) => [
      h('dt', { class: 'col-sm-4' }, name),
      h('dd', { class: 'col-sm-8' }, Array.isArray(value) ? value.join(', ') : String(value)),
    ]),
  );
}

function buyForm(product: Product, stock: ProductStock): HTMLFormElement {
  const region = currentRegion() ?? stock.regions[0]?.region;
  const available = stock.regions.find((level) => level.region === region)?.available ?? 0;
  const quantity = h('input', {
    class: 'form-control',
    id: 'quantity',
    name: 'quantity',
    type: 'number',
    min: 1,
    max: Math.max(1, Math.min(available, 10_000)),
    value: 1,
    inputmode: 'numeric',
    required: true,
  });
  const problem = h('div', { class: 'invalid-feedback', id: 'quantity-problem' });
  quantity.setAttribute('aria-describedby', 'quantity-problem');
  const button = h(
    'button',
    { class: 'btn btn-primary', type: 'submit', disabled: available <= 0 },
    available > 0 ? 'Add to cart' : 'Out of stock',
  );
  const form = h(
    'form',
    { class: 'row g-2 align-items-start', id: 'add-to-cart', novalidate: true },
    h(
      'div',
      { class: 'col-auto' },
      h('label', { class: 'visually-hidden', for: 'quantity' }, 'Quantity'),
      quantity,
      problem,
    ),
    h('div', { class: 'col-auto' }, button),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const wanted = Number(quantity.value);
    quantity.classList.remove('is-invalid');
    if (!Number.isInteger(wanted) || wanted < 1 || wanted > 10_000) {
      quantity.classList.add('is-invalid');
      problem.textContent = 'A quantity from 1 to 10,000.';
      quantity.focus();
      return;
    }
    button.disabled = true;
    addToCart(product.id, wanted).then(
      (cart) => {
        button.disabled = false;
        const line = cart.lines.find((entry) => entry.productId === product.id);
        toast(`Added to your cart (${line?.quantity ?? wanted} in it).`, 'success');
      },
      (error: unknown) => {
        button.disabled = false;
        const apiError = error as ApiError;
        quantity.classList.add('is-invalid');
        problem.textContent =
          apiError.code === 'insufficient_stock'
            ? `Only ${available} available in ${region}.`
            : apiError.message;
        quantity.focus();
      },
    );
  });
  return form;
}

async function show(): Promise<void> {
  try {
    const [product, stock] = await Promise.all([getProduct(id), productStock(id)]);
    document.title = `${product.name} — Mercado`;
    byId('crumb').textContent = product.name;
    if (!currentRegion() && stock.regions[0]) chooseRegion(stock.regions[0].region);
    fill(
      root,
      h('div', { class: 'col-md-6' }, gallery(product)),
      h(
        'div',
        { class: 'col-md-6' },
        h('h1', { class: 'h3' }, product.name),
        h(
          'p',
          { class: 'fs-3 fw-semibold', id: 'price' },
          money(product.priceMinor, product.currency),
        ),
        product.active
          ? buyForm(product, stock)
          : h('p', { class: 'text-danger' }, 'Not on sale right now.'),
        h('h2', { class: 'h5 mt-4' }, 'Description'),
        h('p', { class: 'product-description' }, product.description),
        details(product),
        stockTable(stock, currentRegion()),
      ),
    );
    status.textContent = '';
  } catch (error) {
    const apiError = error as ApiError;
    fill(root);
    status.textContent =
      apiError.status === 404 || apiError.status === 400
        ? 'This product does not exist (any more).'
        : 'The product could not be loaded.';
    if (apiError.status !== 404 && apiError.status !== 400) toast(apiError.message, 'error');
  } finally {
    root.setAttribute('aria-busy', 'false');
  }
}

void show();
