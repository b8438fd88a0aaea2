import { z } from 'zod';

/**
 * The products service's internal lookup, `POST /internal/products/lookup`: one contract for the
 * service that answers it (products) and those that ask (inventory checks who owns a product,
 * orders prices its lines). Services never import each other; they share this.
 */
export const productLookupPath = '/internal/products/lookup';

/** The most ids one lookup may ask for (an order or a stock sheet is far below it). */
export const maxProductLookupIds = 500;

export const productLookupRequestSchema = z.strictObject({
  ids: z.array(z.uuid()).min(1).max(maxProductLookupIds),
});

/** A product as the catalog describes it to other services: enough to price and to check owners. */
export const productLookupItemSchema = z.object({
  id: z.uuid(),
  sellerId: z.uuid(),
  name: z.string(),
  sku: z.string(),
  priceMinor: z.number().int().describe('The price in minor units of `currency`'),
  currency: z.string().describe('ISO 4217 code'),
  active: z.boolean(),
});

/** The products found, in the order asked; unknown ids are left out, inactive products are not. */
export const productLookupResponseSchema = z.object({
  items: z.array(productLookupItemSchema),
});

export type ProductLookupRequest = z.infer<typeof productLookupRequestSchema>;
export type ProductLookupItem = z.infer<typeof productLookupItemSchema>;
export type ProductLookupResponse = z.infer<typeof productLookupResponseSchema>;
