import { ordersError } from '../errors.js';
import type { OrdersDeps } from './deps.js';

/** Refuses a region this shop does not ship from (configured in REGIONS). */
export function assertKnownRegion(deps: Pick<OrdersDeps, 'settings'>, region: string): void {
  if (!deps.settings.regions.includes(region)) {
    throw ordersError('unknown_region', {
      detail: `Regions served: ${deps.settings.regions.join(', ')}`,
    });
  }
}
