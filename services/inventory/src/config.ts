import {
  answerCacheSettings,
  baseServiceSettings,
  databaseSettings,
  loadConfig,
  mqttSettings,
  outboxRelaySettings,
  setting,
} from '@mercado/common/config';

export const inventorySettings = {
  ...baseServiceSettings,
  ...databaseSettings,
  INTERNAL_SECRET: setting.secret(32),
  /** Base URL(s) of the products service, for its internal lookup route. */
  PRODUCTS_URLS: setting.urls(),
  PRODUCTS_TIMEOUT_MS: setting.int(3000, 100, 60_000),
  /** The regions this shop keeps stock in, comma-separated. */
  REGIONS: setting.regions(['north', 'south']),
  /** How often each replica looks for expired reservations. */
  SWEEP_INTERVAL_MS: setting.int(5000, 100, 3_600_000),
  /** Reservations released per sweeper transaction. */
  SWEEP_BATCH_SIZE: setting.int(100, 1, 10_000),
  /** A reservation's lifetime when the caller does not give one. */
  RESERVATION_TTL_SECONDS: setting.int(900, 60, 3600),
  /**
   * Rendered stock answers (`GET /api/inventory/{productId}`) kept in memory per replica until
   * that product's stock changes (sql/inventory's `stock_changed` notifications); 0 turns it off.
   */
  ...answerCacheSettings(10_000, 16 * 1024 * 1024),
  /** The broker the outbox is relayed to (without it, events stay unsent), and the password. */
  ...mqttSettings,
  ...outboxRelaySettings,
};

export type InventoryConfig = ReturnType<typeof loadInventoryConfig>;

export function loadInventoryConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(inventorySettings, env);
}
