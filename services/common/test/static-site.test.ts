import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import express from 'express';
import t from 'tap';
import { listen, serveStaticSite } from '@mercado/common/http';

const script = 'console.log("the app");\n'.repeat(40);

async function site(t: { teardown(fn: () => unknown): void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-site-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'assets'));
  await mkdir(path.join(dir, 'admin'));
  await mkdir(path.join(dir, 'images'));
  await writeFile(path.join(dir, 'index.html'), '<!doctype html><title>home</title>');
  await writeFile(path.join(dir, 'cart.html'), '<!doctype html><title>cart</title>');
  await writeFile(path.join(dir, 'admin', 'index.html'), '<!doctype html><title>admin</title>');
  await writeFile(path.join(dir, 'admin', 'users.html'), '<!doctype html><title>users</title>');
  await writeFile(path.join(dir, 'assets', 'app-ABC123.js'), script);
  await writeFile(path.join(dir, 'assets', 'app-ABC123.js.gz'), gzipSync(script));
  await writeFile(path.join(dir, 'assets', 'app-ABC123.js.br'), brotliCompressSync(script));
  await writeFile(
    path.join(dir, 'images', 'logo.svg'),
    '<svg xmlns="http://www.w3.org/2000/svg"/>',
  );
  await writeFile(path.join(dir, 'secret.env'), 'NOT=served');
  let clock = 0;
  const app = express();
  app.use(serveStaticSite({ dir, now: () => clock }));
  app.use((req, res) => {
    res.status(404).json({ fellThrough: `${req.method} ${req.url}` });
  });
  const server = await listen(app);
  t.teardown(() => server.close(100));
  return {
    dir,
    url: server.url,
    tick(ms: number) {
      clock += ms;
    },
  };
}

/** A raw request (no decompression, the path sent as written). */
function raw(
  url: string,
  target: string,
  { method = 'GET', headers = {} }: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: target, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('pages by clean paths: not cached, with the site CSP', async (t) => {
  const { url } = await site(t);
  for (const [target, title] of [
    ['/', 'home'],
    ['/cart', 'cart'],
    ['/admin', 'admin'],
    ['/admin/users', 'users'],
    ['/cart?id=1', 'cart'],
  ] as const) {
    const page = await raw(url, target);
    t.equal(page.status, 200, target);
    t.match(page.body.toString(), `<title>${title}</title>`);
    t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    t.equal(page.headers['cache-control'], 'no-cache', 'revalidated on every visit');
    t.match(page.headers['content-security-policy'], /default-src 'self'.*script-src 'self'/);
    t.match(page.headers['content-security-policy'], /frame-ancestors 'none'/);
  }
  for (const target of ['/index', '/cart.html', '/admin/index']) {
    t.equal((await raw(url, target)).status, 404, `${target}: only the clean path`);
  }
});

t.test('hashed assets: immutable, precompressed for whoever takes it', async (t) => {
  const { url } = await site(t);
  const target = '/assets/app-ABC123.js';
  const br = await raw(url, target, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
  t.equal(br.headers['content-encoding'], 'br');
  t.equal(brotliDecompressSync(br.body).toString(), script);
  t.equal(br.headers['cache-control'], 'public, max-age=31536000, immutable');
  t.equal(br.headers.vary, 'Accept-Encoding');
  t.equal(br.headers['content-type'], 'text/javascript; charset=utf-8');
  const gzip = await raw(url, target, { headers: { 'accept-encoding': 'gzip' } });
  t.equal(gzip.headers['content-encoding'], 'gzip');
  t.equal(gunzipSync(gzip.body).toString(), script);
  t.equal(Number(gzip.headers['content-length']), gzip.body.length);
  const plain = await raw(url, target);
  t.equal(plain.headers['content-encoding'], undefined, 'none asked, none sent');
  t.equal(plain.body.toString(), script);
  const head = await raw(url, target, { method: 'HEAD', headers: { 'accept-encoding': 'br' } });
  t.equal(head.status, 200);
  t.equal(head.body.length, 0);
  t.equal(Number(head.headers['content-length']), br.body.length);
  const image = await raw(url, '/images/logo.svg');
  t.equal(image.headers['cache-control'], 'public, max-age=3600');
  t.equal(image.headers['content-type'], 'image/svg+xml');
  t.equal(image.headers['content-security-policy'], undefined, 'the CSP is for pages');
});

t.test('only the files that are there: no traversal, no other method, no other type', async (t) => {
  const { url } = await site(t);
  for (const target of [
    '/../package.json',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/assets/../index.html',
    '/assets/%2e%2e/cart.html',
    '/assets//app-ABC123.js',
    '/assets/app-ABC123.js.gz',
    '/secret.env',
    '/assets/app-abc123.js',
    '/%00',
    '/assets/',
  ]) {
    const answer = await raw(url, target);
    t.equal(answer.status, 404, target);
    t.match(
      JSON.parse(answer.body.toString()),
      { fellThrough: /./ },
      `${target}: the next handler's`,
    );
  }
  const posted = await raw(url, '/', { method: 'POST' });
  t.equal(posted.status, 404, 'a POST is the next handler’s');
});

t.test(
  'a site rebuilt under new names is found, reading the folder at most once a second',
  async (t) => {
    const { dir, url, tick } = await site(t);
    await writeFile(path.join(dir, 'assets', 'app-NEW456.js'), 'console.log("new");');
    t.equal(
      (await raw(url, '/assets/app-NEW456.js')).status,
      404,
      'within the second: not read again',
    );
    tick(1_000);
    const found = await raw(url, '/assets/app-NEW456.js');
    t.equal(found.status, 200, 'a second later the miss reads the folder');
    t.equal(found.body.toString(), 'console.log("new");');
    await rm(path.join(dir, 'cart.html'));
    tick(1_000);
    t.equal((await raw(url, '/assets/app-ABC123.js')).status, 200, 'known files served as listed');
  },
);
