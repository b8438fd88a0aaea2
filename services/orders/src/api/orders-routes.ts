import type { Request } from 'express';
import { ApiRouter } from '@mercado/common/http';
import { ordersError } from '../errors.js';
import type { OrdersDeps } from '../domain/deps.js';
import { placeOrderOnce } from '../domain/checkout.js';
import { replayedHeader } from '../domain/idempotency.js';
import {
  cancelOrder,
  findOrders,
  findSoldOrders,
  fulfilOrder,
  getOrder,
} from '../domain/orders.js';
import { refundOrderOnce } from '../domain/refunds.js';
import {
  checkoutBody,
  orderParams,
  orderView,
  ordersPage,
  ordersQuery,
  refundAnswer,
  refundBody,
  soldOrdersPage,
  soldOrdersQuery,
} from './schemas.js';

/** Stripe's limit: up to 255 characters; printable ASCII, as an HTTP header value carries it. */
const idempotencyKeyPattern = /^[\x20-\x7e]{1,255}$/;

function idempotencyKey(req: Request): string {
  const key = req.get('idempotency-key');
  if (key === undefined || !idempotencyKeyPattern.test(key)) {
    throw ordersError('idempotency_key_required');
  }
  return key;
}

const orderAnswer = { 200: { description: 'The order', schema: orderView } };

/** Orders, mounted at /api/orders: the checkout, the shopper's orders, fulfilment and refunds. */
export function ordersRoutes(deps: OrdersDeps): ApiRouter {
  return new ApiRouter('/api/orders', 'orders')
    .route(
      {
        method: 'post',
        path: '/',
        summary: 'Check out the cart: stock reserved, an order awaiting payment',
        description:
          'Requires an Idempotency-Key header (1-255 characters, per user, kept at least 24 h): the first answer is kept and given again, with `Idempotent-Replayed: true`; the same key with another body is 422 `idempotency_key_reused`, while the first request runs 409 `idempotency_key_in_use`. The amount comes from the catalog’s prices now, never from the request.',
        access: 'authenticated',
        body: checkoutBody,
        responses: {
          201: { description: 'The order, awaiting payment until its deadline', schema: orderView },
        },
      },
      async function checkoutRoute({ identity, body }, req, res) {
        const key = idempotencyKey(req);
        const answer = await placeOrderOnce(deps, identity.userId, key, body);
        if (answer.replayed) res.setHeader(replayedHeader, 'true');
        res.setHeader('Location', `/api/orders/${answer.body.id}`);
        res.status(answer.status).json(answer.body);
      },
    )
    .route(
      {
        method: 'get',
        path: '/',
        summary: 'The caller’s orders (an admin’s: everyone’s), newest first',
        access: 'authenticated',
        query: ordersQuery,
        responses: { 200: { description: 'A page of orders', schema: ordersPage } },
      },
      async function ordersRoute({ identity, query }, _req, res) {
        res.setHeader('Cache-Control', 'no-store');
        res.json(await findOrders(deps, identity, query));
      },
    )
    .route(
      {
        method: 'get',
        path: '/sold',
        summary: 'The orders holding the caller’s items (a seller’s back office), newest first',
        description:
          'Each with its shipping address, the seller’s own lines and `otherSellers`; keyset pages as `GET /api/orders`. Only an admin may name another `seller` (403 `forbidden`).',
        access: ['seller', 'admin'],
        query: soldOrdersQuery,
        responses: { 200: { description: 'A page of orders', schema: soldOrdersPage } },
      },
      async function soldOrdersRoute({ identity, query }, _req, res) {
        res.setHeader('Cache-Control', 'no-store');
        res.json(await findSoldOrders(deps, identity, query));
      },
    )
    .route(
      {
        method: 'get',
        path: '/:id',
        summary: 'An order with its lines, totals, history and payment attempts',
        description: 'Its owner’s or an admin’s; anyone else gets 404.',
        access: 'authenticated',
        params: orderParams,
        responses: orderAnswer,
      },
      async function orderRoute({ identity, params }, _req, res) {
        res.setHeader('Cache-Control', 'no-store');
        res.json(await getOrder(deps, identity, params.id));
      },
    )
    .route(
      {
        method: 'post',
        path: '/:id/cancel',
        summary: 'Cancel an unpaid order: the stock is released, payments told',
        access: 'authenticated',
        params: orderParams,
        responses: orderAnswer,
      },
      async function cancelRoute({ identity, params }, _req, res) {
        res.json(await cancelOrder(deps, identity, params.id));
      },
    )
    .route(
      {
        method: 'post',
        path: '/:id/ship',
        summary: 'The paid order left: by the seller of all its items, or an admin',
        access: ['seller', 'admin'],
        params: orderParams,
        responses: orderAnswer,
      },
      async function shipRoute({ identity, params }, _req, res) {
        res.json(await fulfilOrder(deps, identity, params.id, 'shipped'));
      },
    )
    .route(
      {
        method: 'post',
        path: '/:id/deliver',
        summary: 'The shipped order arrived: by the seller of all its items, or an admin',
        access: ['seller', 'admin'],
        params: orderParams,
        responses: orderAnswer,
      },
      async function deliverRoute({ identity, params }, _req, res) {
        res.json(await fulfilOrder(deps, identity, params.id, 'delivered'));
      },
    )
    .route(
      {
        method: 'post',
        path: '/:id/refund',
        summary:
          'Refund a paid order, in full or in part: by the seller of all its items, or an admin',
        description:
          'Requires an Idempotency-Key header, as the checkout does. Answers 202 with the refund `pending`: the request goes to payments over MQTT, and its result makes the order `partially_refunded` or `refunded` (the shopper hears it live) and puts the `restock` lines back in stock. Never more than what is left of the payment (409 `refund_exceeds_captured`, also under concurrent refunds).',
        access: ['seller', 'admin'],
        params: orderParams,
        body: refundBody,
        responses: {
          202: { description: 'The refund, pending, and the order', schema: refundAnswer },
        },
      },
      async function refundRoute({ identity, params, body }, req, res) {
        const key = idempotencyKey(req);
        const answer = await refundOrderOnce(deps, identity, params.id, key, body);
        if (answer.replayed) res.setHeader(replayedHeader, 'true');
        res.status(answer.status).json(answer.body);
      },
    );
}
