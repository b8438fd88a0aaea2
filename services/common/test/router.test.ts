import { randomUUID } from 'node:crypto';
import t from 'tap';
import { z } from 'zod';
import { ApiRouter, buildHttpApp, listen, openApiDocument } from '@mercado/common/http';
import { identityFromGateway, type Identity } from '@mercado/common/identity';
import { defineErrors } from '@mercado/common/errors';
import { createMetrics } from '@mercado/common/metrics';
import {
  callService,
  captureLogs,
  expectProblemAnswer,
  expectRefusals,
  refusalsOfAll,
  type CallOptions,
} from '@mercado/common/testing';

const secret = 'router-test-internal-secret-0123456789abcdef';

const widgetParams = z.strictObject({ id: z.uuid() });
const listQuery = z.strictObject({
  q: z.string().max(20).optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/)
    .transform(Number)
    .default(20),
});
const createBody = z.strictObject({
  name: z.string().trim().min(1).max(50),
  priceMinor: z.number().int().min(1),
  tags: z.array(z.string().max(10)).max(3).default([]),
  dimensions: z.strictObject({ widthMm: z.number().int(), label: z.string() }).optional(),
});
const renameBody = z.strictObject({ name: z.string().min(1).max(50) });

interface Reached {
  operation: string;
  input: unknown;
}

/** The widgets API: one operation per kind of access and input; each handler records its input. */
function widgetsApi(reached: Reached[]): ApiRouter {
  const api = new ApiRouter('/api/widgets', 'widgets')
    .route(
      {
        method: 'get',
        path: '/',
        summary: 'List widgets',
        access: 'public',
        query: listQuery,
        responses: { 200: { description: 'Widgets' } },
      },
      function listWidgets(input, _req, res) {
        reached.push({ operation: 'list', input });
        res.json({ items: [] });
      },
    )
    .route(
      {
        method: 'post',
        path: '/',
        summary: 'Create a widget',
        access: ['seller', 'admin'],
        body: createBody,
        responses: { 201: { description: 'Created' } },
      },
      function createWidget(input, _req, res) {
        reached.push({ operation: 'create', input });
        res.status(201).json({ id: randomUUID() });
      },
    )
    .route(
      {
        method: 'get',
        path: '/:id',
        summary: 'One widget',
        access: 'public',
        params: widgetParams,
        responses: { 200: { description: 'The widget' } },
      },
      function getWidget(input, _req, res) {
        reached.push({ operation: 'get', input });
        res.json({ id: input.params.id });
      },
    )
    .route(
      {
        method: 'patch',
        path: '/:id',
        summary: 'Rename a widget',
        access: 'authenticated',
        params: widgetParams,
        body: renameBody,
        responses: { 200: { description: 'Renamed' } },
      },
      function renameWidget(input, _req, res) {
        reached.push({ operation: 'rename', input });
        res.json({ id: input.params.id, name: input.body.name });
      },
    )
    .route(
      {
        method: 'post',
        path: '/:id/archive',
        summary: 'Archive a widget (the orders service does, when it ships the last one)',
        access: { services: ['orders'] },
        params: widgetParams,
        responses: { 200: { description: 'Archived' } },
      },
      function archiveWidget(input, _req, res) {
        reached.push({ operation: 'archive', input });
        res.json({ by: input.identity.service });
      },
    );
  // Registered after the other /:id methods and after the 405 answers for /:id exist.
  api.route(
    {
      method: 'delete',
      path: '/:id',
      summary: 'Delete a widget',
      access: ['admin'],
      params: widgetParams,
      responses: { 204: { description: 'Deleted' } },
    },
    function deleteWidget(input, _req, res) {
      reached.push({ operation: 'delete', input });
      res.status(204).end();
    },
  );
  return api;
}

async function startWidgets(t: { teardown(fn: () => unknown): void }) {
  const reached: Reached[] = [];
  const api = widgetsApi(reached);
  const { log } = captureLogs('router');
  const app = buildHttpApp({
    name: 'widgets',
    log,
    metrics: createMetrics('widgets'),
    bodyLimitBytes: 1024 * 1024,
    routes(app) {
      app.use('/api', identityFromGateway(secret));
      app.use(api.basePath, api.router);
    },
  });
  const server = await listen(app);
  t.teardown(() => server.close(100));
  const call = (method: string, path: string, options: CallOptions = {}) =>
    callService(server.url, secret, method, path, options);
  return { api, reached, call };
}

const seller: Identity = { userId: randomUUID(), roles: ['seller'] };
const id = randomUUID();

const examples = {
  'GET /api/widgets': { query: { q: 'red', limit: '5' } },
  'POST /api/widgets': {
    body: { name: 'Widget', priceMinor: 250, tags: ['a'], dimensions: { widthMm: 3, label: 'x' } },
  },
  'GET /api/widgets/{id}': { params: { id } },
  'PATCH /api/widgets/{id}': { params: { id }, body: { name: 'New name' } },
  'POST /api/widgets/{id}/archive': { params: { id } },
  'DELETE /api/widgets/{id}': { params: { id } },
};

t.test('the router never reaches a handler with input its spec refuses', async (t) => {
  const { api, reached, call } = await startWidgets(t);
  const cases = refusalsOfAll(t, api.operations, examples);
  const kinds = new Set(cases.map((refusal) => refusal.name.replace(/^\S+ \S+: /, '')));
  for (const kind of [
    'called by anonymous',
    'called by a user',
    'called by another service',
    'called by roles customer, terminal',
    'NUL in params.id',
    'params.id as %zz',
    'params.id as %C0%AF',
    'an unknown query parameter',
    'NUL in query.q',
    'query.limit given twice',
    'no body',
    'NUL in body.dimensions.label',
    'body.priceMinor = 1.5',
    'an unknown body field',
    'a body where none is taken',
  ]) {
    t.ok(kinds.has(kind), `the sweep sends: ${kind}`);
  }
  await expectRefusals(t, call, cases);
  t.same(reached, [], `none of ${cases.length} refused requests reached a handler`);
});

t.test(
  'refusals the sweep does not derive are refused too, all fields in one answer',
  async (t) => {
    const { reached, call } = await startWidgets(t);
    const valid = examples['POST /api/widgets'].body;
    await expectRefusals(t, call, [
      {
        name: 'NUL in a key',
        method: 'POST',
        path: '/api/widgets',
        identity: seller,
        body: { ...valid, dimensions: { widthMm: 3, label: 'x', 'ke\u0000y': 1 } },
        status: 400,
        code: 'validation_failed',
        paths: ['body.dimensions.ke\u0000y'],
      },
      {
        name: 'every bad part at once',
        method: 'PATCH',
        path: '/api/widgets/nope?extra=1',
        identity: seller,
        body: { name: '' },
        status: 400,
        code: 'validation_failed',
        paths: ['params.id', 'query.extra', 'body.name'],
      },
      {
        name: 'a body nested deeper than the call stack goes',
        method: 'POST',
        path: '/api/widgets',
        identity: seller,
        rawBody: `${'['.repeat(100_000)}"\\u0000"${']'.repeat(100_000)}`,
        status: 400,
        code: 'validation_failed',
      },
      {
        name: 'access before input: an anonymous caller learns nothing of the schema',
        method: 'POST',
        path: '/api/widgets',
        body: { nonsense: true },
        status: 401,
        code: 'unauthorized',
      },
    ]);
    t.same(reached, []);
  },
);

t.test('a refusal names every bad field with its path and code', async (t) => {
  const { call } = await startWidgets(t);
  const answer = await call('POST', '/api/widgets', {
    identity: seller,
    body: { name: 1, priceMinor: 250, dimensions: { widthMm: 'wide', label: 'x', depth: 2 }, e: 3 },
  });
  t.equal(answer.status, 400);
  t.same(
    answer.body.errors.map((error: { path: string; code: string }) => [error.path, error.code]),
    [
      ['body.name', 'invalid_type'],
      ['body.dimensions.widthMm', 'invalid_type'],
      ['body.dimensions.depth', 'unknown_field'],
      ['body.e', 'unknown_field'],
    ],
  );
});

t.test('a handler gets the input its schemas parsed, and its caller', async (t) => {
  const { reached, call } = await startWidgets(t);
  const list = await call('GET', '/api/widgets?limit=7');
  t.equal(list.status, 200);
  const created = await call('POST', '/api/widgets', {
    identity: seller,
    body: { name: '  Widget  ', priceMinor: 250 },
  });
  t.equal(created.status, 201);
  const archived = await call('POST', `/api/widgets/${id}/archive`, {
    identity: { roles: [], service: 'orders' },
  });
  t.same(archived.body, { by: 'orders' });
  t.same(reached, [
    { operation: 'list', input: { params: {}, query: { limit: 7 }, identity: { roles: [] } } },
    {
      operation: 'create',
      input: {
        params: {},
        query: {},
        body: { name: 'Widget', priceMinor: 250, tags: [] },
        identity: seller,
      },
    },
    {
      operation: 'archive',
      input: { params: { id }, query: {}, identity: { roles: [], service: 'orders' } },
    },
  ]);
});

t.test('a known path asked with another method is 405 with Allow, before access', async (t) => {
  const { reached, call } = await startWidgets(t);
  for (const [method, path, allow] of [
    ['DELETE', '/api/widgets', 'GET, HEAD, POST'],
    ['PUT', `/api/widgets/${id}`, 'DELETE, GET, HEAD, PATCH'],
    ['GET', `/api/widgets/${id}/archive`, 'POST'],
  ] as const) {
    const answer = await call(method, path);
    expectProblemAnswer(t, answer, {
      name: `${method} ${path}`,
      status: 405,
      code: 'method_not_allowed',
    });
    t.equal(answer.headers.get('allow'), allow, `${method} ${path}: Allow`);
  }
  // Express answers OPTIONS itself from the same routes (RFC 9110 §9.3.7).
  const options = await call('OPTIONS', `/api/widgets/${id}`);
  t.same([options.status, options.headers.get('allow')], [200, 'DELETE, GET, HEAD, PATCH']);
  const head = await call('HEAD', `/api/widgets/${id}`);
  t.equal(head.status, 200, 'HEAD is answered by the GET operation');
  const nowhere = await call('GET', `/api/widgets/${id}/archive/more`);
  expectProblemAnswer(t, nowhere, { name: 'unknown path', status: 404, code: 'not_found' });
  t.same(
    reached.map((entry) => entry.operation),
    ['get'],
    'only the HEAD reached a handler',
  );
});

t.test('a spec the router could not enforce is refused when it is registered', async (t) => {
  const api = new ApiRouter('/api/things', 'things');
  const base = { summary: 's', responses: { 200: { description: 'ok' } } };
  const handler = () => undefined;
  t.throws(
    () => api.route({ ...base, method: 'get', path: '/:id', access: 'public' }, handler),
    /GET \/api\/things\/:id: the path has parameters \(id\) but no params schema/,
  );
  t.throws(
    () =>
      api.route(
        {
          ...base,
          method: 'get',
          path: '/:id',
          access: 'public',
          params: z.strictObject({ thingId: z.string() }),
        },
        handler,
      ),
    /params schema names thingId, path id/,
  );
  t.throws(
    () => api.route({ ...base, method: 'get', path: '/', access: [] }, handler),
    /roles access must name roles/,
  );
  t.throws(
    () => api.route({ ...base, method: 'get', path: '/', access: { services: [] } }, handler),
    /service access must name its callers/,
  );
  api.route({ ...base, method: 'get', path: '/', access: 'public' }, handler);
  t.throws(
    () => api.route({ ...base, method: 'get', path: '/', access: 'public' }, handler),
    /GET \/api\/things\/ is registered twice/,
  );
});

t.test('the document declares the refusals each operation can get', async (t) => {
  const api = widgetsApi([]);
  const errors = defineErrors({ widget_sold_out: { status: 409, title: 'Sold out' } });
  const document = openApiDocument({ title: 'widgets', version: '1' }, api.operations, errors);
  const statuses = (path: string, method: string) =>
    Object.keys((document.paths[path] as Record<string, { responses: object }>)[method]!.responses);
  t.same(statuses('/api/widgets', 'get'), ['200', '400', '4XX', '5XX']);
  t.same(statuses('/api/widgets', 'post'), [
    '201',
    '400',
    '401',
    '403',
    '413',
    '415',
    '4XX',
    '5XX',
  ]);
  t.same(statuses('/api/widgets/{id}', 'patch'), ['200', '400', '401', '413', '415', '4XX', '5XX']);
  t.same(statuses('/api/widgets/{id}', 'delete'), ['204', '400', '401', '403', '4XX', '5XX']);
  t.notOk(document.paths['/api/widgets/{id}/archive'], 'service-only operations stay internal');
  t.match(document.info.description, /405 `method_not_allowed`.*`Allow`/);
  const codes = document.components.schemas.Problem.properties.code.enum;
  t.ok(
    codes.includes('validation_failed') && codes.includes('widget_sold_out'),
    'Problem lists the generic codes and the service’s',
  );
});

/** Type-checked (npm run typecheck), never run: a handler's input is typed from its spec. */
export function handlerInputIsTypedFromTheSpec(api: ApiRouter): void {
  // @ts-expect-error an operation is registered from its spec or not at all
  api.router.get('/raw', () => undefined);
  api.route(
    {
      method: 'patch',
      path: '/:id',
      summary: 's',
      access: { services: ['orders', 'inventory'] },
      params: widgetParams,
      body: renameBody,
      responses: {},
    },
    function typed({ params, query, body, identity }) {
      const name: string = body.name;
      const widget: string = params.id;
      const caller: 'orders' | 'inventory' = identity.service;
      // @ts-expect-error the body schema has no such field
      void body.price;
      // @ts-expect-error the operation declares no query
      void query.q;
      void [name, widget, caller];
    },
  );
  api.route(
    { method: 'get', path: '/', summary: 's', access: ['admin'], responses: {} },
    function signedIn({ identity, body }) {
      const userId: string = identity.userId;
      const none: undefined = body;
      void [userId, none];
    },
  );
  api.route(
    { method: 'get', path: '/', summary: 's', access: 'public', responses: {} },
    function anyone({ identity }) {
      // @ts-expect-error a public operation may have no signed-in caller
      const userId: string = identity.userId;
      void userId;
    },
  );
}
