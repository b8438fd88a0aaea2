import { z } from 'zod';
import { orderStatuses } from '../domain/orders.js';

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

const text = (max: number) => z.string().trim().min(1).max(max);

export const checkoutBody = z.strictObject({
  shippingAddress: z.strictObject({
    name: text(200),
    line1: text(200),
    line2: text(200).optional(),
    city: text(100),
    postalCode: text(20),
    /** ISO 3166-1 alpha-2. */
    country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code'),
  }),
});

export const orderParams = z.strictObject({ id: z.uuid() });

const orderStatus = z.enum(orderStatuses);

export const ordersQuery = z.strictObject({
  status: orderStatus.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(300).optional(),
});

export const soldOrdersQuery = ordersQuery.extend({
  seller: z
    .uuid()
    .optional()
    .describe('Whose items: the caller’s own (the default); only an admin may name another seller'),
});

const orderSummary = z.object({
  id: z.uuid(),
  userId: z.uuid(),
  status: orderStatus,
  region: z.string(),
  currency: z.string(),
  totalMinor: z.number().int(),
  itemCount: z.number().int(),
  deadline: z.iso.datetime().describe('Pay by'),
  payCode: z
    .string()
    .nullable()
    .describe("What a shop's terminal pays the order by (8 characters; shown as K7QM-2XWP)"),
  refundedMinor: z.number().int().describe('What was given back of its payment'),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const ordersPage = z.object({
  items: z.array(orderSummary),
  nextCursor: z.string().nullable(),
});

export const refundView = z.object({
  refundId: z.uuid(),
  paymentId: z.uuid(),
  kind: z.enum(['void', 'refund', 'reversal']),
  status: z.enum(['pending', 'succeeded', 'failed']),
  amountMinor: z.number().int(),
  reason: z.string(),
  requestedBy: z.string(),
  restock: z.array(z.object({ productId: z.uuid(), quantity: z.number().int() })),
  failureReason: z.string().nullable(),
  requestedAt: z.iso.datetime(),
  settledAt: z.iso.datetime().nullable(),
});

/** Why money is given back: a stable code, kept on the refund and shown on the order. */
export const refundReasons = [
  'customer_request',
  'damaged',
  'not_delivered',
  'wrong_item',
  'duplicate',
  'out_of_stock',
  'other',
] as const;

export const refundBody = z.strictObject({
  amountMinor: z
    .number()
    .int()
    .positive()
    .max(100_000_000_000)
    .optional()
    .describe('What to give back, in minor units; all that is left when not given'),
  reason: z.enum(refundReasons),
  restock: z
    .union([
      z.literal(true),
      z
        .array(z.strictObject({ productId: z.uuid(), quantity }))
        .min(1)
        .max(100),
    ])
    .optional()
    .describe('Lines to put back in stock once refunded: true for all of them'),
});

export const refundAnswer = z.object({ refund: refundView, order: z.lazy(() => orderView) });

export const orderView = orderSummary.extend({
  shippingAddress: checkoutBody.shape.shippingAddress,
  failureReason: z.string().nullable(),
  lines: z.array(
    z.object({
      productId: z.uuid(),
      sellerId: z.uuid(),
      name: z.string(),
      sku: z.string(),
      unitPriceMinor: z.number().int(),
      quantity: z.number().int(),
      lineTotalMinor: z.number().int(),
    }),
  ),
  history: z.array(
    z.object({
      from: orderStatus.nullable(),
      to: orderStatus,
      cause: z.string(),
      actor: z.string(),
      at: z.iso.datetime(),
    }),
  ),
  payments: z.array(
    z.object({
      paymentId: z.uuid().nullable(),
      outcome: z.enum(['approved', 'declined', 'refused', 'refunded']),
      reason: z.string().nullable(),
      amountMinor: z.number().int().nullable(),
      cardBrand: z.string().nullable(),
      cardLast4: z.string().nullable(),
      at: z.iso.datetime(),
    }),
  ),
  refunds: z.array(refundView),
});

const lineView = orderView.shape.lines.element;

export const soldOrdersPage = z.object({
  items: z.array(
    orderSummary.extend({
      shippingAddress: checkoutBody.shape.shippingAddress,
      lines: z.array(lineView).describe('The seller’s own lines of the order'),
      otherSellers: z
        .boolean()
        .describe('Other sellers have items in it too: an admin ships and refunds it'),
    }),
  ),
  nextCursor: z.string().nullable(),
});
