import {
  revocationListCallers,
  revocationListPath,
  revocationListResponseSchema,
} from '@mercado/common/contract';
import { ApiRouter } from '@mercado/common/http';
import type { UsersDeps } from '../domain/deps.js';
import { listRecentRevocations } from '../domain/revocations.js';

/** Routes for the gateway and the broker only, never reachable through the gateway. */
export function internalRevocationsRoutes(deps: UsersDeps): ApiRouter {
  return new ApiRouter(revocationListPath, 'internal').route(
    {
      method: 'get',
      path: '/',
      summary: 'Accounts whose access tokens issued at or before an instant are refused',
      description:
        'The revocations that can still refuse an unexpired token (the last access token ' +
        'lifetime and five minutes); each is also announced on `users/revocations`.',
      access: { services: revocationListCallers },
      responses: {
        200: { description: 'The recent revocations', schema: revocationListResponseSchema },
      },
    },
    async function listRevocationsRoute(_input, _req, res) {
      res.setHeader('Cache-Control', 'no-store');
      res.json(await listRecentRevocations(deps));
    },
  );
}
