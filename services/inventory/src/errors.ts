import { defineErrors } from '@mercado/common/errors';

/** The inventory service's own error codes (the kit's generic ones come with them). */
export const inventoryErrors = defineErrors({
  unknown_region: { status: 422, title: 'The region is not one this shop serves' },
  unknown_product: { status: 422, title: 'The product does not exist or is inactive' },
  not_owner: {
    status: 403,
    title: "Only the product's seller (or an admin) may change its stock",
  },
  insufficient_stock: { status: 409, title: 'Not enough stock available' },
  reservation_not_found: { status: 404, title: 'No reservation exists for this order' },
  reservation_conflict: {
    status: 409,
    title: 'The reservation is not in a state that allows this',
  },
  restock_exceeds_committed: {
    status: 422,
    title: 'A restock puts back no more units of a product than the order took',
  },
  negative_stock: { status: 409, title: 'Stock on hand cannot go below what is reserved' },
});

export const inventoryError = inventoryErrors.error;
