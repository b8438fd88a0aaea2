import { z } from 'zod';

/** The highest price the catalog takes: 1,000,000,000.00 in a two-decimal currency. */
export const maxPriceMinor = 100_000_000_000;

const isoCurrencies = new Set(Intl.supportedValuesOf('currency'));

/** Whole-object rules run only on an otherwise valid object, so one mistake gives one error. */
const onlyWhenValid = (payload: { issues: unknown[] }) => payload.issues.length === 0;

/** Text up to `max` characters (after trimming, when asked); the router refuses NUL in any. */
function text(max: number, { trim = false, min = 0 } = {}) {
  return (trim ? z.string().trim() : z.string()).min(min).max(max);
}

const id = z.uuid();
const sku = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, { message: 'may hold only letters, digits, ".", "_" and "-"' });
const productName = text(200, { trim: true, min: 1 });
const description = text(5000);
const priceMinor = z.number().int().min(1).max(maxPriceMinor);
const currency = z
  .string()
  .regex(/^[A-Z]{3}$/, { message: 'must be three upper-case letters' })
  .refine((code) => isoCurrencies.has(code), { message: 'is not an ISO 4217 currency' });
/**
 * An image is an absolute http(s) URL (a CDN, the seller's site) or a path on the shop's own
 * origin (`/images/...`, served with the storefront); never `//host` or another scheme.
 */
const imageUrl = z.union([
  z.url({ protocol: /^https?$/ }).max(2048),
  z
    .string()
    .max(2048)
    .regex(/^\/(?!\/)[\w.~%/-]+$/, {
      message: 'must be an http(s) URL or a path like /images/x.png',
    }),
]);
const imageUrls = z.array(imageUrl).max(10);

// Attributes are shown as a product's facts ("color": "rojo", "ram_gb": 16): flat, small, and
// keyed by plain names (so no `__proto__`), with scalar or short-list values.
const attributeKey = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\p{L}\p{N}][\p{L}\p{N} _.-]*$/u, {
    message:
      'must start with a letter or digit and hold only letters, digits, " ", "_", "." and "-"',
  });
const attributeValue = z.union([text(500), z.number(), z.boolean(), z.array(text(100)).max(20)]);
const maxAttributes = 50;
const attributes = z.preprocess(
  // zod drops an own `__proto__` key silently; the client should hear that it was refused.
  function refuseProtoKey(value, ctx) {
    if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__')) {
      ctx.addIssue({
        code: 'custom',
        message: 'is not allowed',
        path: ['__proto__'],
        input: value,
      });
    }
    return value;
  },
  z
    .record(attributeKey, attributeValue)
    .refine((value) => Object.keys(value).length <= maxAttributes, {
      message: `must have at most ${maxAttributes} keys`,
    }),
);

export const productIdParams = z.strictObject({ id });

export const createProductBody = z.strictObject({
  sellerId: id.optional(),
  sku,
  name: productName,
  description: description.default(''),
  priceMinor,
  currency,
  categoryId: id.nullable().default(null),
  imageUrls: imageUrls.default([]),
  attributes: attributes.default({}),
  active: z.boolean().default(true),
});

export const updateProductBody = z
  .strictObject({
    sku: sku.optional(),
    name: productName.optional(),
    description: description.optional(),
    priceMinor: priceMinor.optional(),
    currency: currency.optional(),
    categoryId: id.nullable().optional(),
    imageUrls: imageUrls.optional(),
    attributes: attributes.optional(),
    active: z.boolean().optional(),
  })
  .refine((body) => Object.keys(body).length > 0, {
    message: 'must change at least one field',
    when: onlyWhenValid,
  });

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const slug = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, {
    message: 'must be lower-case letters and digits in words joined by "-"',
  });

/** A query-string integer: digits only (no `1e3`, `0x10`, spaces or fractions). */
function wholeNumber(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,15}$/, { message: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().min(min).max(max));
}

export const productSorts = ['relevance', 'price_asc', 'price_desc', 'newest'] as const;

export const listProductsQuery = z
  .strictObject({
    q: z
      .string()
      .max(200)
      .transform((value) => value.trim() || undefined)
      .optional(),
    category: z
      .union([z.string().regex(uuidPattern), slug], {
        message: 'must be a category id or slug',
      })
      .transform((value) =>
        uuidPattern.test(value) ? { id: value.toLowerCase() } : { slug: value },
      )
      .optional(),
    minPrice: wholeNumber(0, maxPriceMinor).optional(),
    maxPrice: wholeNumber(0, maxPriceMinor).optional(),
    seller: id.optional(),
    status: z
      .enum(['active', 'inactive', 'all'])
      .default('active')
      .describe(
        'Products on sale (`active`, the default), or, for their seller and admins, `inactive` or `all`',
      ),
    currency: currency.optional(),
    sort: z.enum(productSorts).optional(),
    cursor: z.string().min(1).max(512).optional(),
    limit: wholeNumber(1, 100).default(20),
  })
  .refine(
    (query) =>
      query.minPrice === undefined ||
      query.maxPrice === undefined ||
      query.minPrice <= query.maxPrice,
    { message: 'must not be above maxPrice', path: ['minPrice'], when: onlyWhenValid },
  );

export const categoryIdParams = z.strictObject({ id });

const categoryName = text(100, { trim: true, min: 1 });

export const createCategoryBody = z.strictObject({
  slug,
  name: categoryName,
  parentId: id.nullable().default(null),
});

export const updateCategoryBody = z
  .strictObject({
    slug: slug.optional(),
    name: categoryName.optional(),
    parentId: id.nullable().optional(),
  })
  .refine((body) => Object.keys(body).length > 0, {
    message: 'must change at least one field',
    when: onlyWhenValid,
  });

// Response bodies, for the OpenAPI document.
const timestamp = z.iso.datetime();
const attributeView = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);

export const productView = z.object({
  id: z.uuid(),
  sellerId: z.uuid(),
  sku: z.string(),
  name: z.string(),
  description: z.string(),
  priceMinor: z.number().int().describe('The price in minor units of `currency` (cents)'),
  currency: z.string().describe('ISO 4217 code'),
  categoryId: z.uuid().nullable(),
  imageUrls: z.array(z.string()),
  attributes: z.record(z.string(), attributeView),
  active: z.boolean(),
  createdAt: timestamp,
  updatedAt: timestamp,
});

export const productSummary = productView.omit({ description: true, attributes: true });

export const productPage = z.object({
  items: z.array(productSummary),
  nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null at the end'),
});

export const categoryView = z.object({
  id: z.uuid(),
  slug: z.string(),
  name: z.string(),
  parentId: z.uuid().nullable(),
  createdAt: timestamp,
});

// The tree is recursive, but a recursive zod schema becomes `$ref: '#/$defs/...'`, which would
// point into the OpenAPI document's root once embedded there: children are described, not typed.
export const categoryTree = z.object({
  items: z.array(
    z.object({
      id: z.uuid(),
      slug: z.string(),
      name: z.string(),
      children: z
        .array(z.looseObject({}))
        .describe('Its subcategories, each shaped like this node, sorted by name'),
    }),
  ),
});
