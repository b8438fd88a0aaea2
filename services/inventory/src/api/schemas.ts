import { z } from 'zod';

/** Whole-object rules run only on an otherwise valid object, so one mistake gives one error. */
const onlyWhenValid = (payload: { issues: unknown[] }) => payload.issues.length === 0;

/** The largest count a stock change may name; see maxOnHand in domain/stock.ts. */
const quantityLimit = 1_000_000_000;

/** Order ids are opaque to inventory: whatever the orders service uses, within a safe alphabet. */
const orderId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1-100 of A-Z a-z 0-9 . _ : -');

/** Regions are checked against REGIONS in the domain (422 unknown_region); this only bounds them. */
const region = z.string().min(1).max(100);

export const productParams = z.strictObject({ productId: z.uuid() });

export const stockParams = z.strictObject({ productId: z.uuid(), region });

export const changeStockBody = z
  .strictObject({
    /** Set: the count found on hand. */
    onHand: z.number().int().min(0).max(quantityLimit).optional(),
    /** Adjust: units received (positive) or lost (negative). */
    delta: z
      .number()
      .int()
      .min(-quantityLimit)
      .max(quantityLimit)
      .refine((value) => value !== 0, 'must not be zero')
      .optional(),
    reason: z.string().trim().min(1).max(200),
    lowStockThreshold: z.number().int().min(0).max(quantityLimit).optional(),
  })
  .refine((body) => (body.onHand === undefined) !== (body.delta === undefined), {
    message: 'must give exactly one of onHand (set) or delta (adjust)',
    when: onlyWhenValid,
  });

export const lowStockQuery = z.strictObject({
  region: region.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(200).optional(),
});

export const maxReservationLines = 100;

/** 1–100 lines of a product and a quantity. */
const lines = z
  .array(
    z.strictObject({
      productId: z.uuid(),
      quantity: z.number().int().min(1).max(10_000),
    }),
  )
  .min(1)
  .max(maxReservationLines);

export const reserveBody = z.strictObject({
  orderId,
  region,
  lines: lines.superRefine(function rejectDuplicateProducts(lines, context) {
    const seen = new Set<string>();
    lines.forEach((line, index) => {
      if (seen.has(line.productId)) {
        context.addIssue({
          code: 'custom',
          path: [index, 'productId'],
          message: 'appears in an earlier line; give each product once',
        });
      }
      seen.add(line.productId);
    });
  }),
  ttlSeconds: z.number().int().min(60).max(3600).optional(),
});

export const orderParams = z.strictObject({ orderId });

/** Units of a paid order to put back (its refund's): `restockId` makes it happen once. */
export const restockBody = z.strictObject({
  restockId: z.uuid(),
  lines,
});

// Response bodies, for the OpenAPI document (see domain/views.ts).
export const stockLevelView = z.object({
  region: z.string(),
  onHand: z.number().int(),
  reserved: z.number().int(),
  available: z.number().int(),
});

export const productStockView = z.object({
  productId: z.uuid(),
  lowStockThreshold: z.number().int(),
  regions: z
    .array(stockLevelView)
    .describe('One entry per configured region, zeros where never stocked'),
});

export const stockRowView = stockLevelView.extend({
  productId: z.uuid(),
  lowStockThreshold: z.number().int(),
  updatedAt: z.iso.datetime(),
});

export const lowStockPage = z.object({
  items: z.array(stockRowView.extend({ sellerId: z.uuid() })),
  nextCursor: z.string().nullable(),
});

export const reservationView = z.object({
  orderId: z.string(),
  region: z.string(),
  status: z.enum(['active', 'committed', 'released', 'expired']),
  expiresAt: z.iso.datetime(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  lines: z
    .array(z.object({ productId: z.uuid(), quantity: z.number().int() }))
    .describe('Sorted by product id'),
});
