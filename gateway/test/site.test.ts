import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ConfigError } from '@mercado/common/config';
import { loadGatewayConfig } from '../src/app.js';
import { internalSecret, startEcho, startGateway } from './helpers.js';

t.test('SITE_DIR: the storefront at / beside the API, each with its own headers', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-gateway-site-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>Mercado</title>');
  await writeFile(path.join(dir, 'cart.html'), '<!doctype html><title>Cart</title>');
  const users = await startEcho(t, 'users');
  const gateway = await startGateway(t, { USERS_URLS: users.url, SITE_DIR: dir });

  const home = await gateway.call('/');
  t.equal(home.status, 200);
  t.match(home.body, '<title>Mercado</title>');
  t.equal(home.headers.get('cache-control'), 'no-cache');
  t.match(home.headers.get('content-security-policy'), /script-src 'self'/);
  t.match((await gateway.call('/cart')).body, '<title>Cart</title>');

  const api = await gateway.call('/api/users/me');
  t.equal(api.status, 401, 'the API is the API');
  t.equal(api.headers.get('content-security-policy'), "default-src 'none';frame-ancestors 'none'");
  const missing = await gateway.call('/nowhere');
  t.equal(missing.status, 404);
  t.equal(missing.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  t.equal((await gateway.call('/', { method: 'POST' })).status, 404, 'pages are read only');
});

t.test('SITE_DIR must be a built site', async (t) => {
  const empty = await mkdtemp(path.join(os.tmpdir(), 'mercado-gateway-nosite-'));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  const refused = t.throws(() =>
    loadGatewayConfig({
      INTERNAL_SECRET: internalSecret,
      USERS_URLS: 'http://users:3001',
      SITE_DIR: empty,
    }),
  ) as unknown as ConfigError;
  t.ok(refused instanceof ConfigError);
  t.match(refused.settings, [/^SITE_DIR must be a built site/]);
});
