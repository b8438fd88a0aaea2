import { randomUUID } from 'node:crypto';
import t from 'tap';
import {
  expectCatalogueDocumented,
  expectRefusals,
  refusalsOfAll,
  snapshotTables,
  type OperationExample,
} from '@mercado/common/testing';
import { usersErrors } from '../src/errors.js';
import { signUpAdmin, startUsers, strongPassword } from './helpers.js';

const tables = ['users', 'refresh_tokens', 'login_throttle', 'terminals'];

/** A valid input for every operation; the sweep derives from each the inputs its spec refuses. */
const examples: Record<string, OperationExample> = {
  'POST /api/auth/register': {
    body: { email: 'new@mercado.test', password: strongPassword, name: 'New', roles: ['seller'] },
  },
  'POST /api/auth/login': { body: { email: 'admin@mercado.test', password: strongPassword } },
  'POST /api/auth/refresh': { body: { refreshToken: 'rt-example' } },
  'POST /api/auth/logout': { body: { refreshToken: 'rt-example' } },
  'GET /api/auth/jwks.json': {},
  'GET /api/users/me': {},
  'PATCH /api/users/me': {
    body: { name: 'Renamed', currentPassword: strongPassword, newPassword: `${strongPassword}!` },
  },
  'GET /api/users': {
    query: { q: 'ana', role: 'seller', disabled: 'false', limit: '10', cursor: 'c' },
  },
  'PATCH /api/users/{id}': {
    params: { id: randomUUID() },
    body: { roles: ['seller'], disabled: true, name: 'Renamed' },
  },
  'POST /api/terminals': { body: { name: 'Till', id: 'till-9', location: 'Madrid' } },
  'GET /api/terminals': { query: { limit: '10', cursor: 'c' } },
  'POST /api/terminals/{id}/secret': { params: { id: 'till-1' } },
  'DELETE /api/terminals/{id}': { params: { id: 'till-1' } },
  'POST /internal/terminals/verify': { body: { terminalId: 'till-1', secret: 'secret' } },
};

t.test("no operation's handler is reached with input its spec refuses", async (t) => {
  const users = await startUsers(t);
  const admin = await signUpAdmin(users);
  const till = await users.call('POST', '/api/terminals', {
    identity: admin,
    body: { id: 'till-1', name: 'Till' },
  });
  t.equal(till.status, 201);
  const before = await snapshotTables(users.db, tables);

  const cases = refusalsOfAll(t, users.operations, examples);
  await expectRefusals(t, users.call, cases);

  t.same(await snapshotTables(users.db, tables), before, `none of ${cases.length} wrote anything`);
  t.notOk(
    users.logs.lines.some((line) => line.level === 'error'),
    'no refused input reached the server-error path',
  );
});

t.test('the service answers with its own catalogue, documented and in its README', async (t) => {
  const { url } = await startUsers(t);
  await expectCatalogueDocumented(t, url, usersErrors, new URL('../README.md', import.meta.url));
});
