import { defineErrors } from '@mercado/common/errors';

/** The products service's own error codes (the kit's generic ones come with them). */
export const productsErrors = defineErrors({
  sku_taken: { status: 409, title: 'This seller already has a product with this SKU' },
  unknown_category: { status: 422, title: 'The category does not exist' },
  category_in_use: { status: 409, title: 'The category still has products or subcategories' },
  slug_taken: { status: 409, title: 'A category with this slug already exists' },
  category_cycle: {
    status: 422,
    title: 'A category cannot move under itself or one of its subcategories',
  },
  not_owner: {
    status: 403,
    title: 'Only the seller who owns this product (or an admin) may do this',
  },
});

export const productsError = productsErrors.error;
