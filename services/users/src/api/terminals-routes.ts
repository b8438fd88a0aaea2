import { ApiRouter } from '@mercado/common/http';
import type { UsersDeps } from '../domain/deps.js';
import {
  deleteTerminal,
  listTerminals,
  registerTerminal,
  rotateTerminalSecret,
  verifyTerminalSecret,
} from '../domain/terminals.js';
import {
  createTerminalBody,
  listTerminalsQuery,
  terminalCredentialsView,
  terminalIdParams,
  terminalPage,
  terminalVerdict,
  verifyTerminalBody,
} from './schemas.js';

/** The services that may ask whether a terminal's secret is right: the broker, when one connects. */
export const terminalVerifyCallers = ['broker'] as const;

/** A secret is shown once: nothing between here and the admin may keep a copy (RFC 9111 §5.2.2.5). */
function noStore(res: { setHeader(name: string, value: string): unknown }): void {
  res.setHeader('Cache-Control', 'no-store');
}

/** The payment-terminal registry, for admins. */
export function terminalsRoutes(deps: UsersDeps): ApiRouter {
  return new ApiRouter('/api/terminals', 'terminals')
    .route(
      {
        method: 'post',
        path: '/',
        summary: 'Register a payment terminal; its secret is shown this once',
        description:
          'Without `id`, one is generated (`term-` and 16 hex digits). The terminal connects to ' +
          'the MQTT broker as `mqtt.username` with client id `mqtt.clientId` and the secret as ' +
          'password. An id ever used, by a deleted terminal too, is 409 `terminal_id_taken`.',
        access: ['admin'],
        body: createTerminalBody,
        responses: {
          201: { description: 'The terminal and its secret', schema: terminalCredentialsView },
        },
      },
      async function createTerminalRoute({ identity, body }, _req, res) {
        const created = await registerTerminal(deps, identity.userId, body);
        noStore(res);
        res.status(201).json(created);
      },
    )
    .route(
      {
        method: 'get',
        path: '/',
        summary:
          "List the registered terminals with their presence, last transactions and today's " +
          'totals, in id order',
        description:
          'Presence is what each terminal last published, retained, on `terminals/{id}/status` ' +
          '(its last will says `offline`); `unknown` when it never did or when this service ' +
          "does not hear the broker. `lastTransactions` and `today` come from payments' " +
          '`payments/terminal-transactions` events; `today` is the calendar day in ' +
          '`TERMINALS_TIME_ZONE`.',
        access: ['admin'],
        query: listTerminalsQuery,
        responses: { 200: { description: 'A page of terminals', schema: terminalPage } },
      },
      async function listTerminalsRoute({ query }, _req, res) {
        noStore(res);
        res.json(await listTerminals(deps, query));
      },
    )
    .route(
      {
        method: 'post',
        path: '/:id/secret',
        summary: "Replace a terminal's secret; the new one is shown this once",
        description:
          'The old secret stops verifying at once, and the change is announced on ' +
          '`users/revocations`: the broker forgets it and closes the connections made with it.',
        access: ['admin'],
        params: terminalIdParams,
        responses: {
          200: { description: 'The terminal and its new secret', schema: terminalCredentialsView },
        },
      },
      async function rotateSecretRoute({ identity, params }, _req, res) {
        const rotated = await rotateTerminalSecret(deps, identity.userId, params.id);
        noStore(res);
        res.json(rotated);
      },
    )
    .route(
      {
        method: 'delete',
        path: '/:id',
        summary: 'Delete a terminal; its id is never used again',
        access: ['admin'],
        params: terminalIdParams,
        responses: { 204: { description: 'Deleted' } },
      },
      async function deleteTerminalRoute({ identity, params }, _req, res) {
        await deleteTerminal(deps, identity.userId, params.id);
        res.status(204).end();
      },
    );
}

/** Routes for the broker only, never reachable through the gateway (which routes `/api/*`). */
export function internalTerminalsRoutes(deps: UsersDeps): ApiRouter {
  return new ApiRouter('/internal/terminals', 'internal').route(
    {
      method: 'post',
      path: '/verify',
      summary: "Whether a secret is a live terminal's",
      description: 'An unknown or deleted terminal is `{ valid: false }`, as is a wrong secret.',
      access: { services: terminalVerifyCallers },
      body: verifyTerminalBody,
      responses: { 200: { description: 'The verdict', schema: terminalVerdict } },
    },
    async function verifyTerminalRoute({ body }, _req, res) {
      const { terminalId, secret } = body;
      noStore(res);
      res.json({ valid: await verifyTerminalSecret(deps, terminalId, secret) });
    },
  );
}
