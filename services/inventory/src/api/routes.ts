import { AppError } from '@mercado/common/errors';
import type { Request } from 'express';
import { ApiRouter, answerFromCache, sendCacheableJson, validate } from '@mercado/common/http';
import { requireRole, requireService } from '@mercado/common/identity';
import type { InventoryDeps } from '../domain/deps.js';
import { changeStock, findLowStock, getProductStock } from '../domain/stock.js';
import {
  commitReservation,
  getReservation,
  releaseReservation,
  reserveStock,
} from '../domain/reservations.js';
import {
  changeStockBody,
  lowStockPage,
  lowStockQuery,
  orderParams,
  productParams,
  productStockView,
  reservationView,
  reserveBody,
  stockParams,
  stockRowView,
} from './schemas.js';

/**
 * The stock of a product is the same for every caller, and changes with every reservation: any
 * cache may store it but must revalidate it every time (RFC 9111 §5.2.2.4), which the ETag makes
 * cheap; the gateway's micro-cache never keeps it. Inventory itself keeps the rendered answer until
 * the product's stock changes (see the README's "Reading stock").
 */
const stockCachePolicy = 'public, no-cache';

/** A stock answer is about one product: only that product's changes retire it. */
function stockScope(req: Request): string | undefined {
  const productId = req.params.productId;
  return typeof productId === 'string' ? productId.toLowerCase() : undefined;
}

/** The services allowed to call the internal reservation routes. */
export const reservationCallers = ['orders'];

function methodNotAllowed(): never {
  throw new AppError('method_not_allowed');
}

/** Public routes, mounted at /api/inventory (the gateway decides who reaches them). */
export function inventoryRoutes(deps: InventoryDeps): ApiRouter {
  const api = new ApiRouter('/api/inventory', 'inventory')
    // Before /:productId, which would otherwise take `low-stock` for a product id.
    .route(
      {
        method: 'get',
        path: '/low-stock',
        summary: 'Stock rows whose available count is below their low-stock threshold',
        description:
          'A seller sees their own products, an admin everyone’s. Keyset pagination on (product, region).',
        access: ['seller', 'admin'],
        query: lowStockQuery,
        responses: { 200: { description: 'A page of low-stock rows', schema: lowStockPage } },
      },
      requireRole('seller', 'admin'),
      async function lowStockRoute(req, res) {
        const query = validate(lowStockQuery, req.query, 'query');
        res.json(await findLowStock(deps, req.identity, query));
      },
    )
    .route(
      {
        method: 'get',
        path: '/:productId',
        summary: "A product's stock in every configured region",
        description: 'A product never stocked shows zeros; the catalog is not consulted.',
        access: 'public',
        params: productParams,
        responses: { 200: { description: 'The stock per region', schema: productStockView } },
      },
      ...(deps.answers ? [answerFromCache(deps.answers, stockScope)] : []),
      async function stockRoute(req, res) {
        const { productId } = validate(productParams, req.params, 'params');
        sendCacheableJson(req, res, await getProductStock(deps, productId), stockCachePolicy);
      },
    )
    .route(
      {
        method: 'put',
        path: '/:productId/:region',
        summary: 'Set (onHand) or adjust (delta) the stock on hand in one region, with a reason',
        description:
          'Give exactly one of onHand or delta. Only the product’s seller (asked of the catalog) or an admin; on hand cannot drop below what is reserved (409 negative_stock).',
        access: ['seller', 'admin'],
        params: stockParams,
        body: changeStockBody,
        responses: { 200: { description: 'The changed stock row', schema: stockRowView } },
      },
      requireRole('seller', 'admin'),
      async function changeStockRoute(req, res) {
        const { productId, region } = validate(stockParams, req.params, 'params');
        const body = validate(changeStockBody, req.body);
        const { onHand, delta, reason, lowStockThreshold } = body;
        const change = onHand !== undefined ? { onHand } : { delta: delta! };
        res.json(
          await changeStock(deps, req.identity, {
            productId,
            region,
            reason,
            ...change,
            ...(lowStockThreshold !== undefined ? { lowStockThreshold } : {}),
          }),
        );
      },
    );

  api.router.all(['/low-stock', '/:productId', '/:productId/:region'], methodNotAllowed);
  return api;
}

/** Internal routes, mounted at /internal/reservations: other services only, never the gateway. */
export function reservationRoutes(deps: InventoryDeps): ApiRouter {
  const api = new ApiRouter('/internal/reservations', 'reservations');
  api.router.use(requireService(...reservationCallers));

  api
    .route(
      {
        method: 'post',
        path: '/',
        summary: 'Hold stock for an order, all lines or none',
        description: 'A repeat of the same request answers 200 with the existing reservation.',
        access: 'service',
        body: reserveBody,
        responses: {
          201: { description: 'The new reservation', schema: reservationView },
          200: { description: 'The existing reservation (a repeat)', schema: reservationView },
        },
      },
      async function reserveRoute(req, res) {
        const body = validate(reserveBody, req.body);
        const { created, reservation } = await reserveStock(deps, body);
        res.status(created ? 201 : 200).json(reservation);
      },
    )
    .route(
      {
        method: 'get',
        path: '/:orderId',
        summary: "An order's reservation",
        access: 'service',
        params: orderParams,
        responses: { 200: { description: 'The reservation', schema: reservationView } },
      },
      async function reservationRoute(req, res) {
        const { orderId } = validate(orderParams, req.params, 'params');
        res.json(await getReservation(deps, orderId));
      },
    )
    .route(
      {
        method: 'post',
        path: '/:orderId/commit',
        summary: 'The order was paid: the reserved units leave stock (idempotent)',
        access: 'service',
        params: orderParams,
        responses: { 200: { description: 'The committed reservation', schema: reservationView } },
      },
      async function commitRoute(req, res) {
        const { orderId } = validate(orderParams, req.params, 'params');
        res.json(await commitReservation(deps, req.identity.service!, orderId));
      },
    )
    .route(
      {
        method: 'post',
        path: '/:orderId/release',
        summary:
          'The order was cancelled or declined: the held units become available (idempotent)',
        access: 'service',
        params: orderParams,
        responses: { 200: { description: 'The released reservation', schema: reservationView } },
      },
      async function releaseRoute(req, res) {
        const { orderId } = validate(orderParams, req.params, 'params');
        res.json(await releaseReservation(deps, orderId));
      },
    );

  api.router.all(['/', '/:orderId', '/:orderId/commit', '/:orderId/release'], methodNotAllowed);
  return api;
}
