import { z } from 'zod';
import { AppError } from '@mercado/common/errors';
import { createServiceClient } from '@mercado/common/http';
import { type Logger } from '@mercado/common/log';
import type { Inventory, Reservation, ReserveOutcome } from '../domain/deps.js';

export interface InventoryClientOptions {
  baseUrls: readonly string[];
  internalSecret: string;
  timeoutMs?: number;
  log: Logger;
}

// What orders reads of inventory's answers (services/inventory/README.md, "Endpoints").
const stockAnswer = z.object({
  productId: z.uuid(),
  regions: z.array(z.object({ region: z.string(), available: z.number().int() })),
});

const reservationAnswer = z.object({
  orderId: z.string(),
  region: z.string(),
  status: z.enum(['active', 'committed', 'released', 'expired']),
  expiresAt: z.iso.datetime(),
  lines: z.array(z.object({ productId: z.uuid(), quantity: z.number().int() })),
});

const shortageAnswer = z.object({
  code: z.literal('insufficient_stock'),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).default([]),
});

const problemCode = (body: unknown) => {
  const code = (body as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};

/**
 * The inventory service, called as service `orders`: its public stock read (the same answer the
 * storefront gets, kept by inventory until the stock changes) and its internal reservations.
 * An answer orders cannot read is 503 `service_unavailable`, never a guess.
 */
export function createInventoryClient({
  baseUrls,
  internalSecret,
  timeoutMs,
  log,
}: InventoryClientOptions): Inventory {
  const client = createServiceClient({
    caller: 'orders',
    baseUrls,
    internalSecret,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  function unavailable(what: string, status: number, body: unknown): AppError {
    log.error({ status, code: problemCode(body), call: what }, 'inventory call failed');
    return new AppError('service_unavailable', { detail: 'The inventory could not be consulted' });
  }
  return {
    async availableIn(region, productIds) {
      const answers = await Promise.all(
        [...new Set(productIds)].map(async (productId) => {
          const response = await client.request<unknown>('GET', `/api/inventory/${productId}`);
          const parsed = response.status === 200 ? stockAnswer.safeParse(response.body) : undefined;
          if (!parsed?.success) throw unavailable('stock', response.status, response.body);
          const row = parsed.data.regions.find((entry) => entry.region === region);
          return [productId, row?.available ?? 0] as const;
        }),
      );
      return new Map(answers);
    },
    async reserve(request): Promise<ReserveOutcome> {
      const response = await client.request<unknown>('POST', '/internal/reservations', request);
      if (response.status === 200 || response.status === 201) {
        const parsed = reservationAnswer.safeParse(response.body);
        if (parsed.success) return { ok: true, reservation: parsed.data as Reservation };
      }
      if (response.status === 409) {
        const shortage = shortageAnswer.safeParse(response.body);
        if (shortage.success) {
          return {
            ok: false,
            code: 'insufficient_stock',
            shortages: shortage.data.errors.map((error) => ({
              index: Number(/^body\.lines\.(\d+)\./.exec(error.path)?.[1] ?? -1),
              message: error.message,
            })),
          };
        }
      }
      throw unavailable('reserve', response.status, response.body);
    },
    async commit(orderId) {
      const response = await client.request<unknown>(
        'POST',
        `/internal/reservations/${orderId}/commit`,
      );
      if (response.status === 200) return true;
      if (response.status === 409 && problemCode(response.body) === 'reservation_conflict') {
        return false;
      }
      throw unavailable('commit', response.status, response.body);
    },
    async release(orderId) {
      const response = await client.request<unknown>(
        'POST',
        `/internal/reservations/${orderId}/release`,
      );
      // Nothing held (the checkout never reached inventory): nothing to release.
      if (response.status === 200 || response.status === 404) return;
      throw unavailable('release', response.status, response.body);
    },
    async restock(orderId, restockId, lines) {
      const response = await client.request<unknown>(
        'POST',
        `/internal/reservations/${orderId}/restock`,
        { restockId, lines },
      );
      if (response.status === 200) return true;
      if (response.status === 404 || response.status === 409 || response.status === 422) {
        log.error(
          { orderId, restockId, status: response.status, code: problemCode(response.body) },
          'inventory refused a restock',
        );
        return false;
      }
      throw unavailable('restock', response.status, response.body);
    },
  };
}
