import type { Request } from 'express';
import { ApiRouter, answerFromCache, sendCacheableJson } from '@mercado/common/http';
import type { InventoryDeps } from '../domain/deps.js';
import { changeStock, findLowStock, getProductStock } from '../domain/stock.js';
import {
  commitReservation,
  getReservation,
  releaseReservation,
  restockReservation,
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
  restockBody,
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
export const reservationCallers = ['orders'] as const;

/** Public routes, mounted at /api/inventory (the gateway decides who reaches them). */
export function inventoryRoutes(deps: InventoryDeps): ApiRouter {
  return (
    new ApiRouter('/api/inventory', 'inventory')
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
        async function lowStockRoute({ identity, query }, _req, res) {
          res.json(await findLowStock(deps, identity, query));
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
          responses: {
            200: { description: 'The stock per region', schema: productStockView },
            304: { description: 'The copy named in If-None-Match is still current' },
          },
          before: deps.answers ? [answerFromCache(deps.answers, stockScope)] : [],
        },
        async function stockRoute({ params }, req, res) {
          const stock = await getProductStock(deps, params.productId);
          sendCacheableJson(req, res, stock, stockCachePolicy);
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
        async function changeStockRoute({ identity, params, body }, _req, res) {
          const { productId, region } = params;
          const { onHand, delta, reason, lowStockThreshold } = body;
          const change = onHand !== undefined ? { onHand } : { delta: delta! };
          res.json(
            await changeStock(deps, identity, {
              productId,
              region,
              reason,
              ...change,
              ...(lowStockThreshold !== undefined ? { lowStockThreshold } : {}),
            }),
          );
        },
      )
  );
}

/** Internal routes, mounted at /internal/reservations: other services only, never the gateway. */
export function reservationRoutes(deps: InventoryDeps): ApiRouter {
  const access = { services: reservationCallers };
  return new ApiRouter('/internal/reservations', 'reservations')
    .route(
      {
        method: 'post',
        path: '/',
        summary: 'Hold stock for an order, all lines or none',
        description: 'A repeat of the same request answers 200 with the existing reservation.',
        access,
        body: reserveBody,
        responses: {
          201: { description: 'The new reservation', schema: reservationView },
          200: { description: 'The existing reservation (a repeat)', schema: reservationView },
        },
      },
      async function reserveRoute({ body }, _req, res) {
        const { created, reservation } = await reserveStock(deps, body);
        res.status(created ? 201 : 200).json(reservation);
      },
    )
    .route(
      {
        method: 'get',
        path: '/:orderId',
        summary: "An order's reservation",
        access,
        params: orderParams,
        responses: { 200: { description: 'The reservation', schema: reservationView } },
      },
      async function reservationRoute({ params }, _req, res) {
        res.json(await getReservation(deps, params.orderId));
      },
    )
    .route(
      {
        method: 'post',
        path: '/:orderId/commit',
        summary: 'The order was paid: the reserved units leave stock (idempotent)',
        access,
        params: orderParams,
        responses: { 200: { description: 'The committed reservation', schema: reservationView } },
      },
      async function commitRoute({ identity, params }, _req, res) {
        res.json(await commitReservation(deps, identity.service, params.orderId));
      },
    )
    .route(
      {
        method: 'post',
        path: '/:orderId/release',
        summary:
          'The order was cancelled or declined: the held units become available (idempotent)',
        access,
        params: orderParams,
        responses: { 200: { description: 'The released reservation', schema: reservationView } },
      },
      async function releaseRoute({ params }, _req, res) {
        res.json(await releaseReservation(deps, params.orderId));
      },
    )
    .route(
      {
        method: 'post',
        path: '/:orderId/restock',
        summary: 'The paid order was refunded: units it took go back on hand (once per restockId)',
        description:
          'Only a committed reservation; never more units of a product than the order took, across restocks (422 restock_exceeds_committed). A repeat of the same restockId answers the reservation unchanged.',
        access,
        params: orderParams,
        body: restockBody,
        responses: { 200: { description: 'The reservation', schema: reservationView } },
      },
      async function restockRoute({ identity, params, body }, _req, res) {
        res.json(await restockReservation(deps, identity.service, params.orderId, body));
      },
    );
}
