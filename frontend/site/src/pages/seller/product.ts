import { ApiError } from '../../lib/api.js';
import { productStock, type Product, type ProductStock } from '../../lib/catalog-api.js';
import { byId, fill, h } from '../../lib/dom.js';
import { busy, clearProblems, fieldProblem } from '../../lib/forms.js';
import { minorDigits, money, parseMajor } from '../../lib/format.js';
import { mountLayout } from '../../lib/layout.js';
import {
  changeProduct,
  createProduct,
  ownProduct,
  setStock,
  type ProductFields,
} from '../../lib/seller-api.js';
import {
  categoryChoices,
  placeProblems,
  requireSeller,
  sellerNav,
  spinner,
} from '../../lib/seller-ui.js';
import { toast } from '../../lib/toast.js';

/**
 * A seller's product (`/seller/product`, `?id=` to edit one): its details, checked here as the
 * catalog checks them and then by the catalog (each problem next to its field), its images by URL
 * (previewed), its category from the tree; and once it exists, its stock per region: a count set
 * with a reason, and the low-stock threshold.
 */
mountLayout();
const root = byId('editor');
const stockSection = byId('stock');
const stockRoot = byId('stock-levels');
const seller = requireSeller(root);
byId('seller-nav').append(sellerNav('/seller'));
let productId = new URLSearchParams(location.search).get('id') ?? undefined;

// The catalog's rules (services/products/README.md, "Validation").
const skuPattern = /^[A-Za-z0-9._-]{1,64}$/;
const maxPriceMinor = 100_000_000_000;
const maxImages = 10;
const imagePattern = /^(https?:\/\/[^\s]+|\/(?!\/)[\w.~%/-]+)$/;
const currencies = new Set(
  typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('currency') : [],
);

function field(
  id: string,
  label: string,
  control: HTMLElement,
  help?: string,
  width = 'col-12',
): HTMLElement {
  if (help) control.setAttribute('aria-describedby', `${id}-help`);
  return h(
    'div',
    { class: width },
    h('label', { class: 'form-label', for: id }, label),
    control,
    help ? h('div', { class: 'form-text', id: `${id}-help` }, help) : null,
  );
}

/** The image URL list: one input per image, each previewed when the site may load it. */
function imageList(urls: string[]): { element: HTMLElement; values: () => string[] } {
  const list = h('ol', { class: 'list-unstyled mb-2', id: 'image-list' });
  const add = h(
    'button',
    { class: 'btn btn-sm btn-outline-secondary', type: 'button', id: 'add-image' },
    'Add an image URL',
  );
  let next = 0;
  function preview(holder: HTMLElement, url: string): void {
    const own = url.startsWith('/') && !url.startsWith('//');
    const sameOrigin = own || url.startsWith(`${location.origin}/`);
    if (!url) {
      fill(holder, h('span', { class: 'image-preview-empty' }, 'No image'));
    } else if (!sameOrigin || !imagePattern.test(url)) {
      fill(
        holder,
        h(
          'span',
          { class: 'image-preview-empty' },
          'Not previewed: the site shows images from the shop itself only',
        ),
      );
    } else {
      const img = h('img', {
        class: 'image-preview',
        src: url,
        alt: 'Preview',
        width: 96,
        height: 72,
      });
      img.addEventListener('error', () =>
        fill(
          holder,
          h('span', { class: 'image-preview-empty text-danger' }, 'No image at this URL'),
        ),
      );
      fill(holder, img);
    }
  }
  function row(url: string): HTMLElement {
    const index = next++;
    const id = `image-${index}`;
    const input = h('input', {
      class: 'form-control',
      id,
      type: 'text',
      inputmode: 'url',
      maxlength: 2048,
      value: url,
      placeholder: '/images/demo/libros.svg or https://…',
      'data-image': '',
    });
    const holder = h('div', { class: 'image-preview-holder' });
    const remove = h(
      'button',
      { class: 'btn btn-sm btn-outline-danger', type: 'button' },
      'Remove',
      h('span', { class: 'visually-hidden' }, ` image ${index + 1}`),
    );
    const item = h(
      'li',
      { class: 'd-flex flex-wrap align-items-start gap-2 mb-2' },
      holder,
      h(
        'div',
        { class: 'flex-grow-1' },
        h('label', { class: 'visually-hidden', for: id }, `Image URL ${index + 1}`),
        input,
      ),
      remove,
    );
    input.addEventListener('change', () => preview(holder, input.value.trim()));
    remove.addEventListener('click', () => {
      item.remove();
      renumber();
      add.focus();
    });
    preview(holder, url);
    return item;
  }
  /** Inputs are named by their place, as the API's problems name them (`imageUrls.1`). */
  function renumber(): void {
    list.querySelectorAll<HTMLInputElement>('input[data-image]').forEach((input, index) => {
      input.name = `imageUrls.${index}`;
    });
    add.disabled = list.childElementCount >= maxImages;
  }
  add.addEventListener('click', () => {
    const item = row('');
    list.append(item);
    renumber();
    item.querySelector('input')?.focus();
  });
  list.append(...urls.map(row));
  renumber();
  return {
    element: h(
      'fieldset',
      { class: 'col-12' },
      h('legend', { class: 'form-label fs-6' }, 'Images'),
      h(
        'p',
        { class: 'form-text mt-0', id: 'images-help' },
        `Up to ${maxImages}, by URL: a path on this shop (/images/…) or an http(s) address.`,
      ),
      list,
      add,
    ),
    values: () =>
      [...list.querySelectorAll<HTMLInputElement>('input[data-image]')].map((input) =>
        input.value.trim(),
      ),
  };
}

function productForm(product: Product | undefined, categories: Array<[string, string]>) {
  const currency = product?.currency ?? 'EUR';
  const input = (name: string, attributes: Record<string, string | number | boolean> = {}) =>
    h('input', { class: 'form-control', id: `product-${name}`, name, ...attributes });
  const name = input('name', { required: true, maxlength: 200, value: product?.name ?? '' });
  const sku = input('sku', {
    required: true,
    maxlength: 64,
    value: product?.sku ?? '',
    autocapitalize: 'characters',
    spellcheck: false,
  });
  const price = input('priceMinor', {
    required: true,
    inputmode: 'decimal',
    value: product
      ? (product.priceMinor / 10 ** minorDigits(currency)).toFixed(minorDigits(currency))
      : '',
  });
  const currencyInput = input('currency', {
    required: true,
    maxlength: 3,
    value: currency,
    autocapitalize: 'characters',
    spellcheck: false,
  });
  const category = h(
    'select',
    { class: 'form-select', id: 'product-categoryId', name: 'categoryId' },
    h('option', { value: '' }, 'No category'),
    ...categories.map(([id, label]) =>
      h('option', { value: id, selected: id === product?.categoryId }, label),
    ),
  );
  const description = h(
    'textarea',
    {
      class: 'form-control',
      id: 'product-description',
      name: 'description',
      rows: 4,
      maxlength: 5000,
    },
    product?.description ?? '',
  );
  const active = h('input', {
    class: 'form-check-input',
    id: 'product-active',
    name: 'active',
    type: 'checkbox',
    checked: product?.active ?? true,
  });
  const images = imageList(product?.imageUrls ?? []);
  const form = h(
    'form',
    { class: 'row g-3', id: 'product-form', novalidate: true },
    field('product-name', 'Name', name, undefined, 'col-md-8'),
    field(
      'product-sku',
      'SKU',
      sku,
      'Letters, digits, ".", "_" and "-"; unique among yours.',
      'col-md-4',
    ),
    field(
      'product-priceMinor',
      'Price',
      price,
      'In the currency’s units, such as 12.50.',
      'col-sm-6 col-md-4',
    ),
    field(
      'product-currency',
      'Currency',
      currencyInput,
      'ISO code, such as EUR.',
      'col-sm-6 col-md-2',
    ),
    field('product-categoryId', 'Category', category, undefined, 'col-md-6'),
    field('product-description', 'Description', description),
    images.element,
    h(
      'div',
      { class: 'col-12 form-check ms-2' },
      active,
      h(
        'label',
        { class: 'form-check-label', for: 'product-active' },
        'On sale (shown in the catalog)',
      ),
    ),
    h(
      'div',
      { class: 'col-12' },
      h(
        'button',
        { class: 'btn btn-primary', type: 'submit' },
        product ? 'Save changes' : 'Add product',
      ),
    ),
  );

  /** The fields as the catalog takes them, or undefined after showing what is wrong. */
  function read(): ProductFields | undefined {
    clearProblems(form);
    const code = currencyInput.value.trim().toUpperCase();
    const fields: ProductFields = {
      name: name.value.trim(),
      sku: sku.value.trim(),
      priceMinor: Number.NaN,
      currency: code,
      categoryId: category.value || null,
      description: description.value,
      imageUrls: images.values().filter((url) => url !== ''),
      active: active.checked,
    };
    const problems: Array<[string, string]> = [];
    if (!fields.name) problems.push(['name', 'Enter the product’s name.']);
    if (!skuPattern.test(fields.sku)) {
      problems.push(['sku', 'A SKU of 1 to 64 letters, digits, ".", "_" or "-" (no spaces).']);
    }
    const currencyKnown =
      /^[A-Z]{3}$/.test(code) && (currencies.size === 0 || currencies.has(code));
    if (!currencyKnown) problems.push(['currency', 'A three-letter ISO 4217 code, such as EUR.']);
    const minor = currencyKnown ? parseMajor(price.value, code) : undefined;
    if (minor === undefined || Number.isNaN(minor) || minor < 1 || minor > maxPriceMinor) {
      problems.push(['priceMinor', 'A price above zero, such as 12.50.']);
    } else {
      fields.priceMinor = minor;
    }
    if (fields.description.length > 5000) {
      problems.push(['description', 'At most 5,000 characters.']);
    }
    images.values().forEach((url, index) => {
      if (url && (url.length > 2048 || !imagePattern.test(url))) {
        problems.push([`imageUrls.${index}`, 'An http(s) URL or a path like /images/x.png.']);
      }
    });
    for (const [at, message] of problems) fieldProblem(form, at, message);
    if (problems.length > 0) {
      form.querySelector<HTMLElement>('.is-invalid')?.focus();
      return undefined;
    }
    return fields;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const fields = read();
    if (!fields) return;
    void busy(form, async () => {
      try {
        const saved = productId
          ? await changeProduct(productId, fields)
          : await createProduct(fields);
        const created = !productId;
        productId = saved.id;
        toast(created ? `${saved.name} added.` : `${saved.name} saved.`, 'success');
        if (created) {
          history.replaceState(null, '', `/seller/product?id=${encodeURIComponent(saved.id)}`);
          show(saved);
        } else {
          titles(saved);
        }
      } catch (error) {
        placeProblems(form, error, { sku_taken: 'sku', unknown_category: 'categoryId' });
      }
    });
  });
  return form;
}

function titles(product: Product | undefined): void {
  const title = product ? product.name : 'New product';
  byId('crumb').textContent = title;
  byId('product-title').textContent = product ? `Edit ${product.name}` : 'New product';
  document.title = `${title} — My products — Mercado`;
  const price = document.getElementById('current-price');
  if (product && price) {
    price.textContent = `Now ${money(product.priceMinor, product.currency)}${product.active ? '' : ', not on sale'}.`;
  }
}

function stockTable(stock: ProductStock): HTMLElement {
  return h(
    'div',
    { class: 'table-responsive' },
    h(
      'table',
      { class: 'table table-sm w-auto', id: 'stock-table' },
      h('caption', {}, `Low-stock threshold: ${stock.lowStockThreshold || 'none'}`),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Region', 'On hand', 'Reserved', 'Available'].map((name) =>
            h('th', { scope: 'col' }, name),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        ...stock.regions.map((level) =>
          h(
            'tr',
            { 'data-region': level.region },
            h('th', { scope: 'row' }, level.region),
            h('td', { 'data-on-hand': '' }, String(level.onHand)),
            h('td', {}, String(level.reserved)),
            h('td', { 'data-available': '' }, String(level.available)),
          ),
        ),
      ),
    ),
  );
}

function stockForm(id: string, stock: ProductStock): HTMLFormElement {
  const region = h(
    'select',
    { class: 'form-select', id: 'stock-region', name: 'region' },
    ...stock.regions.map((level) => h('option', { value: level.region }, level.region)),
  );
  const onHand = h('input', {
    class: 'form-control',
    id: 'stock-onHand',
    name: 'onHand',
    type: 'number',
    min: 0,
    max: 1_000_000_000,
    inputmode: 'numeric',
    required: true,
    value: String(stock.regions[0]?.onHand ?? 0),
  });
  region.addEventListener('change', () => {
    onHand.value = String(
      stock.regions.find((level) => level.region === region.value)?.onHand ?? 0,
    );
  });
  const reason = h('input', {
    class: 'form-control',
    id: 'stock-reason',
    name: 'reason',
    maxlength: 200,
    required: true,
    placeholder: 'Stock count, delivery…',
  });
  const threshold = h('input', {
    class: 'form-control',
    id: 'stock-lowStockThreshold',
    name: 'lowStockThreshold',
    type: 'number',
    min: 0,
    max: 1_000_000_000,
    inputmode: 'numeric',
    value: String(stock.lowStockThreshold),
  });
  const form = h(
    'form',
    { class: 'row g-3 align-items-start', id: 'stock-form', novalidate: true },
    field('stock-region', 'Region', region, undefined, 'col-sm-6 col-md-3'),
    field('stock-onHand', 'On hand', onHand, undefined, 'col-sm-6 col-md-2'),
    field('stock-reason', 'Reason', reason, undefined, 'col-md-4'),
    field(
      'stock-lowStockThreshold',
      'Low-stock threshold',
      threshold,
      'Every region; 0: never low.',
      'col-md-3',
    ),
    h(
      'div',
      { class: 'col-12' },
      h('button', { class: 'btn btn-primary', type: 'submit' }, 'Set stock'),
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearProblems(form);
    const count = Number(onHand.value);
    const low = Number(threshold.value || '0');
    const why = reason.value.trim();
    const problems: Array<[string, string]> = [];
    if (onHand.value === '' || !Number.isInteger(count) || count < 0 || count > 1_000_000_000) {
      problems.push(['onHand', 'A whole number from 0.']);
    }
    if (!why) problems.push(['reason', 'Say why (a stock count, a delivery…).']);
    if (!Number.isInteger(low) || low < 0 || low > 1_000_000_000) {
      problems.push(['lowStockThreshold', 'A whole number from 0.']);
    }
    for (const [at, message] of problems) fieldProblem(form, at, message);
    if (problems.length > 0) {
      form.querySelector<HTMLElement>('.is-invalid')?.focus();
      return;
    }
    void busy(form, async () => {
      try {
        await setStock(id, region.value, {
          onHand: count,
          reason: why,
          ...(low !== stock.lowStockThreshold ? { lowStockThreshold: low } : {}),
        });
        toast(`Stock in ${region.value} set to ${count}.`, 'success');
        await showStock(id, region.value);
      } catch (error) {
        placeProblems(form, error, { negative_stock: 'onHand', unknown_region: 'region' });
      }
    });
  });
  return form;
}

async function showStock(id: string, region?: string): Promise<void> {
  stockSection.hidden = false;
  stockRoot.setAttribute('aria-busy', 'true');
  if (!stockRoot.hasChildNodes()) fill(stockRoot, spinner('Loading the stock…'));
  try {
    const stock = await productStock(id);
    const form = stockForm(id, stock);
    fill(stockRoot, stockTable(stock), form);
    if (region) {
      const select = form.querySelector<HTMLSelectElement>('#stock-region');
      if (select) {
        select.value = region;
        select.dispatchEvent(new Event('change'));
      }
    }
  } catch (error) {
    fill(stockRoot, h('p', { class: 'text-danger' }, 'The stock could not be loaded.'));
    toast((error as Error).message, 'error');
  } finally {
    stockRoot.setAttribute('aria-busy', 'false');
  }
}

let categories: Array<[string, string]> = [];

function show(product: Product | undefined): void {
  fill(
    root,
    product ? h('p', { class: 'text-body-secondary', id: 'current-price' }) : null,
    productForm(product, categories),
  );
  titles(product);
  if (product) void showStock(product.id);
}

async function start(): Promise<void> {
  try {
    const [tree, product] = await Promise.all([
      categoryChoices(),
      productId ? ownProduct(productId) : Promise.resolve(undefined),
    ]);
    categories = tree;
    show(product);
  } catch (error) {
    const missing = error instanceof ApiError && (error.status === 404 || error.status === 400);
    fill(
      root,
      h(
        'p',
        { class: 'text-danger', role: 'status' },
        missing
          ? 'This product does not exist, or is not yours.'
          : 'The product could not be loaded.',
      ),
    );
    if (!missing) toast((error as Error).message, 'error');
  } finally {
    root.setAttribute('aria-busy', 'false');
  }
}

if (seller) void start();
