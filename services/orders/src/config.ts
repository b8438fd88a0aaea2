import {
  baseServiceSettings,
  databaseSettings,
  loadConfig,
  mqttSettings,
  outboxRelaySettings,
  setting,
} from '@mercado/common/config';

export const ordersSettings = {
  ...baseServiceSettings,
  ...databaseSettings,
  INTERNAL_SECRET: setting.secret(32),
  /** Base URL(s) of the products service, for its internal lookup (prices, sellers, state). */
  PRODUCTS_URLS: setting.urls(),
  PRODUCTS_TIMEOUT_MS: setting.int(3000, 100, 60_000),
  /** Base URL(s) of the inventory service: stock reads and reservations. */
  INVENTORY_URLS: setting.urls(),
  INVENTORY_TIMEOUT_MS: setting.int(3000, 100, 60_000),
  /** The regions the shop ships from, as inventory's REGIONS; the first is a new cart's. */
  REGIONS: setting.regions(['north', 'south']),
  /** Lines a cart may hold. */
  CART_MAX_LINES: setting.int(50, 1, 100),
  /** How long an order may be paid for (its deadline, the intent's expiresAt). */
  PAYMENT_WINDOW_SECONDS: setting.int(900, 60, 2900),
  /**
   * How long past its deadline an unpaid order waits before orders asks payments to close it: a
   * payment approved just before the deadline may still be on its way (see the README, "Expiry
   * and reconciliation").
   * The stock stays reserved for the window plus this.
   */
  EXPIRY_GRACE_SECONDS: setting.int(120, 0, 600),
  /** How often each replica sweeps: expiries, stock left to commit or release, old keys. */
  SWEEP_INTERVAL_MS: setting.int(5000, 100, 3_600_000),
  /** Orders claimed per sweeper transaction (asked about, or asked to be closed). */
  SWEEP_BATCH_SIZE: setting.int(100, 1, 10_000),
  /**
   * How often payments is asked again about an unpaid order: a result published while no orders
   * replica listened is published again on the answer (see the README, "Expiry and
   * reconciliation"). A replica's first sweep asks about every unpaid order at once.
   */
  PAYMENT_CHECK_INTERVAL_SECONDS: setting.int(60, 1, 86_400),
  /** How long an Idempotency-Key and its answer are kept (at least 24 h). */
  IDEMPOTENCY_KEY_TTL_HOURS: setting.int(24, 24, 24 * 30),
  /** Guest carts untouched for longer are deleted. */
  GUEST_CART_TTL_DAYS: setting.int(30, 1, 365),
  /** The broker (payment intents, results, order status), and the service's password. */
  ...mqttSettings,
  ...outboxRelaySettings,
};

export type OrdersConfig = ReturnType<typeof loadOrdersConfig>;

export function loadOrdersConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(ordersSettings, env);
}
