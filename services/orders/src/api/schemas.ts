import { z } from 'zod';

const quantity = z.number().int().min(1).max(10_000);

/** Regions are checked against REGIONS in the domain (422 unknown_region); this only bounds them. */
const region = z.string().min(1).max(100);

export const productParams = z.strictObject({ productId: z.uuid() });

export const addItemBody = z.strictObject({ productId: z.uuid(), quantity });

export const setQuantityBody = z.strictObject({ quantity });

export const cartBody = z.strictObject({ region });

// Response bodies, for the OpenAPI document (see domain/cart.ts).
const lineProblem = z.enum([
  'product_not_found',
  'product_inactive',
  'currency_mismatch',
  'insufficient_stock',
]);

export const cartView = z.object({
  cartToken: z
    .string()
    .optional()
    .describe('Only when this call created a guest cart: send it back as Cart-Token'),
  region: z.string(),
  currency: z.string().nullable(),
  lines: z.array(
    z.object({
      productId: z.uuid(),
      name: z.string().nullable(),
      sku: z.string().nullable(),
      quantity: z.number().int(),
      unitPriceMinor: z.number().int(),
      lineTotalMinor: z.number().int(),
      available: z.number().int(),
      problem: lineProblem.nullable(),
    }),
  ),
  itemCount: z.number().int(),
  totalMinor: z.number().int(),
  checkoutReady: z.boolean(),
  notices: z.array(
    z.object({
      productId: z.uuid(),
      code: z.union([lineProblem, z.enum(['quantity_capped', 'cart_full'])]),
      message: z.string(),
    }),
  ),
});
