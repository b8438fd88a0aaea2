import type { Request, Response } from 'express';
import { ApiRouter } from '@mercado/common/http';
import type { Identity } from '@mercado/common/identity';
import { ordersError } from '../errors.js';
import type { OrdersDeps } from '../domain/deps.js';
import {
  addCartItem,
  cartTokenPattern,
  getCart,
  removeCartItem,
  setCartItemQuantity,
  setCartRegion,
  type CartCaller,
  type CartView,
} from '../domain/cart.js';
import { addItemBody, cartBody, cartView, productParams, setQuantityBody } from './schemas.js';

/** The header a guest's cart travels in, both ways. */
export const cartTokenHeader = 'cart-token';

/** The caller of a cart route: the signed-in user, and the guest's token when one is sent. */
function cartCaller(identity: Identity, req: Request): CartCaller {
  const token = req.get(cartTokenHeader);
  if (token !== undefined && !cartTokenPattern.test(token)) throw ordersError('cart_token_invalid');
  return { userId: identity.userId, token };
}

/** A cart is one shopper's: no shared cache may keep it. */
function sendCart(
  res: Response,
  result: { view: CartView; cartToken?: string },
  status = 200,
): void {
  res.setHeader('Cache-Control', 'no-store');
  if (result.cartToken) {
    res.setHeader('Cart-Token', result.cartToken);
    res.status(201).json({ cartToken: result.cartToken, ...result.view });
    return;
  }
  res.status(status).json(result.view);
}

const responses = {
  200: { description: 'The cart', schema: cartView },
};
const creating = {
  ...responses,
  201: {
    description: 'A new guest cart: its token is in the Cart-Token header and in `cartToken`',
    schema: cartView,
  },
};

/**
 * The cart, mounted at /api/cart. Anyone may have one: a guest's is named by the Cart-Token
 * header, a signed-in user's by who they are. A signed-in call that still sends a guest's token
 * merges that guest cart into the user's first (see the README, "Carts").
 */
export function cartRoutes(deps: OrdersDeps): ApiRouter {
  return new ApiRouter('/api/cart', 'cart')
    .route(
      {
        method: 'get',
        path: '/',
        summary: 'The cart, each line priced and checked against the catalog and stock now',
        access: 'public',
        responses,
      },
      async function cartRoute({ identity }, req, res) {
        sendCart(res, { view: await getCart(deps, cartCaller(identity, req)) });
      },
    )
    .route(
      {
        method: 'patch',
        path: '/',
        summary: 'Choose the region the cart ships from (every line must be available there)',
        access: 'public',
        body: cartBody,
        responses: creating,
      },
      async function cartRegionRoute({ identity, body }, req, res) {
        sendCart(res, await setCartRegion(deps, cartCaller(identity, req), body.region));
      },
    )
    .route(
      {
        method: 'post',
        path: '/items',
        summary: 'Add units of a product (to its line, if the cart has one)',
        description:
          'The product must be on sale, in the cart’s currency, and the line’s new quantity available in the cart’s region.',
        access: 'public',
        body: addItemBody,
        responses: creating,
      },
      async function addItemRoute({ identity, body }, req, res) {
        sendCart(res, await addCartItem(deps, cartCaller(identity, req), body));
      },
    )
    .route(
      {
        method: 'patch',
        path: '/items/:productId',
        summary: 'Set the quantity of a line',
        access: 'public',
        params: productParams,
        body: setQuantityBody,
        responses,
      },
      async function setQuantityRoute({ identity, params, body }, req, res) {
        const caller = cartCaller(identity, req);
        sendCart(res, {
          view: await setCartItemQuantity(deps, caller, params.productId, body.quantity),
        });
      },
    )
    .route(
      {
        method: 'delete',
        path: '/items/:productId',
        summary: 'Remove a line',
        access: 'public',
        params: productParams,
        responses,
      },
      async function removeItemRoute({ identity, params }, req, res) {
        const caller = cartCaller(identity, req);
        sendCart(res, { view: await removeCartItem(deps, caller, params.productId) });
      },
    );
}
