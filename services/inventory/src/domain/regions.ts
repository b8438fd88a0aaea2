import { inventoryError } from '../errors.js';
import type { InventoryDeps } from './deps.js';

/** Refuses a region this shop does not serve (configured in REGIONS). */
export function assertKnownRegion(deps: InventoryDeps, region: string): void {
  if (!deps.regions.includes(region)) {
    throw inventoryError('unknown_region', {
      detail: `Regions served: ${deps.regions.join(', ')}`,
    });
  }
}
