/**
 * New connections per client address: a token bucket per address holding a quarter of the
 * per-minute rate as its burst, refilled continuously. A storm of connects from one address is
 * refused (CONNACK is never sent; the socket closes) while every other address connects as usual.
 * Buckets of addresses that went quiet are forgotten, so the map stays bounded.
 */
export function createConnectionRateLimit(
  perMinute: number,
  now: () => number = Date.now,
  maxAddresses = 100_000,
): (address: string) => boolean {
  const burst = Math.max(1, Math.floor(perMinute / 4));
  const refillPerMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return function allowConnection(address: string): boolean {
    const time = now();
    const bucket = buckets.get(address) ?? { tokens: burst, at: time };
    bucket.tokens = Math.min(burst, bucket.tokens + (time - bucket.at) * refillPerMs);
    bucket.at = time;
    // Most recently seen last, so the first entry is the one quiet the longest.
    buckets.delete(address);
    buckets.set(address, bucket);
    if (buckets.size > maxAddresses) buckets.delete(buckets.keys().next().value!);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };
}
