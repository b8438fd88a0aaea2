import { z } from 'zod';
import { ApiRouter } from '@mercado/common/http';
import type { UsersDeps } from '../domain/deps.js';
import { listRecentRevocations } from '../domain/revocations.js';

/**
 * Who may read the revocation list: every gateway replica and every broker node, when they start
 * and whenever they reconnect to the broker (what was announced meanwhile did not reach them).
 */
export const revocationListCallers = ['gateway', 'broker'] as const;

export const revocationList = z.object({
  accounts: z.array(z.object({ userId: z.uuid(), revokedBefore: z.iso.datetime() })),
});

/** Routes for the gateway and the broker only, never reachable through the gateway. */
export function internalRevocationsRoutes(deps: UsersDeps): ApiRouter {
  return new ApiRouter('/internal/revocations', 'internal').route(
    {
      method: 'get',
      path: '/',
      summary: 'Accounts whose access tokens issued at or before an instant are refused',
      description:
        'The revocations that can still refuse an unexpired token (the last access token ' +
        'lifetime and five minutes); each is also announced on `users/revocations`.',
      access: { services: revocationListCallers },
      responses: { 200: { description: 'The recent revocations', schema: revocationList } },
    },
    async function listRevocationsRoute(_input, _req, res) {
      res.setHeader('Cache-Control', 'no-store');
      res.json(await listRecentRevocations(deps));
    },
  );
}
