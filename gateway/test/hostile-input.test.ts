import t from 'tap';
import { isServiceAccess, type Identity } from '@mercado/common/identity';
import {
  expectProblemAnswer,
  refusalsOfAll,
  sendRawHttp,
  snapshotTables,
  unparsableRequests,
  type CallOptions,
  type CallResult,
  type RefusalCase,
} from '@mercado/common/testing';
import {
  internalSecret as usersSecret,
  prepareUsersSweep,
  startUsers,
} from '@mercado/users/testing';
import {
  internalSecret as productsSecret,
  prepareProductsSweep,
  startProducts,
} from '@mercado/products/testing';
import {
  internalSecret as inventorySecret,
  prepareInventorySweep,
  startInventory,
} from '@mercado/inventory/testing';
import { gatewayErrors } from '../src/errors.js';
import { call, startGateway } from './helpers.js';

/**
 * The services' hostile-input sweeps (see each service's refused-input test), sent through the
 * gateway as a client would send them: every public operation of users, products and inventory
 * refused with the same problem, nothing written, and the gateway's own refusals (oversized
 * request lines and headers) problem+json as well.
 */
t.test(
  'hostile input through the gateway is refused with a code and changes nothing',
  async (t) => {
    const users = await startUsers(t);
    const products = await startProducts(t);
    const inventory = await startInventory(t);
    const jwks = `${users.url}/api/auth/jwks.json`;
    const unlimited = { RATE_LIMIT_PER_IP: '10000000', RATE_LIMIT_PER_USER: '10000000' };
    // One gateway per service: each test service signs identities under its own secret.
    const gatewayTo = (upstream: Record<string, string>, secret: string) =>
      startGateway(t, { ...upstream, JWKS_URL: jwks, INTERNAL_SECRET: secret, ...unlimited });
    const sweeps = [
      {
        name: 'users',
        service: users,
        gateway: await gatewayTo({ USERS_URLS: users.url }, usersSecret),
        ...(await prepareUsersSweep(users)),
      },
      {
        name: 'products',
        service: products,
        gateway: await gatewayTo(
          { USERS_URLS: users.url, PRODUCTS_URLS: products.url },
          productsSecret,
        ),
        ...(await prepareProductsSweep(products)),
      },
      {
        name: 'inventory',
        service: inventory,
        gateway: await gatewayTo(
          { USERS_URLS: users.url, INVENTORY_URLS: inventory.url },
          inventorySecret,
        ),
        ...(await prepareInventorySweep(inventory)),
      },
    ];
    const before = await Promise.all(
      sweeps.map(({ service, tables }) => snapshotTables(service.db, tables)),
    );

    const tokens = new Map<string, string>();
    async function bearer(identity: Identity): Promise<Record<string, string>> {
      if (!identity.userId) return {};
      const key = `${identity.userId} ${identity.roles.join()}`;
      let token = tokens.get(key);
      if (!token) {
        token = await users.keys.signAccessToken({
          userId: identity.userId,
          roles: identity.roles,
        });
        tokens.set(key, token);
      }
      return { authorization: `Bearer ${token}` };
    }
    async function viaGateway(
      url: string,
      method: string,
      path: string,
      options: CallOptions,
    ): Promise<CallResult> {
      const headers: Record<string, string> = {
        ...(options.identity ? await bearer(options.identity) : {}),
        ...options.headers,
      };
      const body = options.body !== undefined ? JSON.stringify(options.body) : options.rawBody;
      if (body !== undefined) headers['content-type'] ??= 'application/json';
      return call(`${url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
      });
    }

    let sent = 0;
    for (const sweep of sweeps) {
      // Internal operations are not routable from outside, and only services sign a service identity.
      const publicOperations = sweep.service.operations.filter(
        (operation) => !isServiceAccess(operation.access),
      );
      const publicExamples = Object.fromEntries(
        Object.entries(sweep.examples).filter(([key]) => !key.includes(' /internal/')),
      );
      const cases: RefusalCase[] = [
        ...refusalsOfAll(t, publicOperations, publicExamples),
        ...sweep.unknownIds.filter((refusal) => !refusal.path.startsWith('/internal/')),
      ].filter((refusal) => refusal.identity?.service === undefined);
      for (const { name, method, path, status, code, paths, allow, ...options } of cases) {
        const answer = await viaGateway(sweep.gateway.url, method, path, options);
        const wanted = { name: `${sweep.name}: ${name}`, status, code, paths, allow };
        expectProblemAnswer(t, answer, wanted);
        sent++;
      }
    }
    t.ok(sent > 400, `${sent} hostile requests went through the gateway`);

    for (const path of ['/api/products', '/api/users/me', '/api/nowhere']) {
      for (const { name, bytes, status, code } of unparsableRequests(path)) {
        const answer = await sendRawHttp(sweeps[1]!.gateway.url, bytes);
        expectProblemAnswer(t, answer, { name: `gateway ${path}: ${name}`, status, code });
      }
    }
    for (const [path, status, code] of [
      ['/internal/products/lookup', 404, 'not_found'],
      ['/api/%zz', 404, 'not_found'],
      ['/api/docs/assets/%zz', 404, 'not_found'],
    ] as const) {
      expectProblemAnswer(t, await sweeps[1]!.gateway.call(path), {
        name: `gateway ${path}`,
        status,
        code,
      });
    }

    const after = await Promise.all(
      sweeps.map(({ service, tables }) => snapshotTables(service.db, tables)),
    );
    t.same(after, before, 'no service wrote anything');
    for (const { name, service, gateway } of sweeps) {
      t.notOk(
        [...service.logs.lines, ...gateway.logs.lines].some((line) => line.level === 'error'),
        `${name}: no hostile input reached a server-error path`,
      );
    }

    // The API document's Problem lists every code: the gateway's and each service's own.
    for (const { name, service, gateway } of sweeps) {
      const problemCodes = async (url: string) =>
        (await call(url)).body.components.schemas.Problem.properties.code.enum as string[];
      const listed = await problemCodes(`${gateway.url}/api/openapi.json`);
      const wanted = [
        ...Object.keys(gatewayErrors.entries),
        ...(await problemCodes(`${service.url}/openapi.json`)),
      ];
      t.same(
        wanted.filter((code) => !listed.includes(code)),
        [],
        `${name}: the API's Problem lists the gateway's codes and the service's`,
      );
    }
  },
);
