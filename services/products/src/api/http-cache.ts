/**
 * Cache policies for catalog reads. A shop wants a busy listing to be served from caches, yet a
 * price change to show within seconds: caches may reuse a listing or detail for 30 s, and for
 * another 30 s while they revalidate in the background (RFC 5861). Checkout never relies on these:
 * orders reads current prices through the internal lookup.
 */
export const cachePolicy = {
  /** The same answer for every caller: browsers and shared caches may keep it. */
  publicCatalog: 'public, max-age=30, stale-while-revalidate=30',
  /** The category tree changes rarely. */
  publicCategories: 'public, max-age=60, stale-while-revalidate=60',
  /** An answer that depends on who asks (a seller's own inactive product): that browser only, and
   * revalidated each time. */
  callerSpecific: 'private, no-cache',
  /** Writes, and the internal lookup. */
  noStore: 'no-store',
} as const;
