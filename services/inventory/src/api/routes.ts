import { Router } from 'express';
import { AppError, requireRole, requireService, validate } from '@mercado/common';
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
  lowStockQuery,
  orderParams,
  productParams,
  reserveBody,
  stockParams,
} from './schemas.js';

/** The services allowed to call the internal reservation routes. */
export const reservationCallers = ['orders'];

function methodNotAllowed(): never {
  throw new AppError('method_not_allowed');
}

/** Public routes, mounted at /api/inventory (the gateway decides who reaches them). */
export function inventoryRoutes(deps: InventoryDeps): Router {
  const router = Router();

  router.get('/low-stock', requireRole('seller', 'admin'), async function lowStockRoute(req, res) {
    const query = validate(lowStockQuery, req.query, 'query');
    res.json(await findLowStock(deps, req.identity, query));
  });

  router.get('/:productId', async function stockRoute(req, res) {
    const { productId } = validate(productParams, req.params, 'params');
    res.json(await getProductStock(deps, productId));
  });

  router.put(
    '/:productId/:region',
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

  router.all(['/low-stock', '/:productId', '/:productId/:region'], methodNotAllowed);
  return router;
}

/** Internal routes, mounted at /internal/reservations: other services only, never the gateway. */
export function reservationRoutes(deps: InventoryDeps): Router {
  const router = Router();
  router.use(requireService(...reservationCallers));

  router.post('/', async function reserveRoute(req, res) {
    const body = validate(reserveBody, req.body);
    const { created, reservation } = await reserveStock(deps, body);
    res.status(created ? 201 : 200).json(reservation);
  });

  router.get('/:orderId', async function reservationRoute(req, res) {
    const { orderId } = validate(orderParams, req.params, 'params');
    res.json(await getReservation(deps, orderId));
  });

  router.post('/:orderId/commit', async function commitRoute(req, res) {
    const { orderId } = validate(orderParams, req.params, 'params');
    res.json(await commitReservation(deps, req.identity.service!, orderId));
  });

  router.post('/:orderId/release', async function releaseRoute(req, res) {
    const { orderId } = validate(orderParams, req.params, 'params');
    res.json(await releaseReservation(deps, orderId));
  });

  router.all(['/', '/:orderId', '/:orderId/commit', '/:orderId/release'], methodNotAllowed);
  return router;
}
