import { AppError } from '@mercado/common/errors';
import type { InventoryDeps } from './deps.js';

/** Refuses a region this shop does not serve (configured in REGIONS). */
export function assertKnownRegion(deps: InventoryDeps, region: string): void {
  if (!deps.regions.includes(region)) {
    throw new AppError('unknown_region', {
      detail: `Regions served: ${deps.regions.join(', ')}`,
    });
  }
}
