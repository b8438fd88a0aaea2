import type { Knex } from '@mercado/common/db';

export type MovementKind = 'set' | 'adjust' | 'commit' | 'restock';

export interface NewMovement {
  productId: string;
  region: string;
  delta: number;
  kind: MovementKind;
  reason: string;
  /** `user:{id}` or `service:{name}`. */
  actor: string;
  orderId?: string;
}

export interface MovementRow {
  id: number;
  product_id: string;
  region: string;
  delta: number;
  on_hand_after: number;
  kind: MovementKind;
  reason: string;
  actor: string;
  order_id: string | null;
  created_at: Date;
}

/**
 * Appends to the ledger. Call only after changing on_hand by the same deltas in the same
 * transaction: the database fills in `on_hand_after` and checks at commit that it equals on_hand.
 */
export async function appendMovements(
  trx: Knex.Transaction,
  movements: readonly NewMovement[],
): Promise<void> {
  if (movements.length === 0) return;
  await trx('stock_movements').insert(
    movements.map((movement) => ({
      product_id: movement.productId,
      region: movement.region,
      delta: movement.delta,
      kind: movement.kind,
      reason: movement.reason,
      actor: movement.actor,
      order_id: movement.orderId ?? null,
    })),
  );
}
