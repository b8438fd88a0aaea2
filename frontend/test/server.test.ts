import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { freePort } from '@mercado/common/testing';

/**
 * A frontend replica as Compose runs it: the built server (`dist/server.js`) as a process of its
 * own, serving the built site with health and readiness, stopping on SIGTERM.
 */
const server = fileURLToPath(new URL('../dist/server.js', import.meta.url));

t.test('a replica serves the site, says it is ready, and stops on SIGTERM', async (t) => {
  const port = await freePort();
  const child = spawn(process.execPath, [server], {
    cwd: path.dirname(server),
    env: { PATH: process.env.PATH ?? '', PORT: String(port), LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('frontend listening')) resolve();
    });
    void exited.then((code) => reject(new Error(`exited ${code} before listening`)));
  });
  const base = `http://127.0.0.1:${port}`;
  const home = await fetch(`${base}/`, { headers: { 'accept-encoding': 'br' } });
  t.equal(home.status, 200);
  t.match(await home.text(), '<title>Mercado — shop</title>');
  t.equal(home.headers.get('cache-control'), 'no-cache');
  t.match(home.headers.get('content-security-policy'), /default-src 'self'/);
  const script = /src="(\/assets\/index-[A-Z0-9]+\.js)"/.exec(
    await (await fetch(`${base}/`)).text(),
  )![1]!;
  const asset = await fetch(`${base}${script}`);
  t.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.equal((await fetch(`${base}/health/ready`)).status, 200);
  t.equal((await fetch(`${base}/cart`)).status, 200, 'every page by its clean path');
  t.equal((await fetch(`${base}/nowhere`)).status, 404);
  t.equal((await fetch(`${base}/api/products`)).status, 404, 'the API is the gateway’s');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'a clean stop');
});

t.test('a replica refuses a folder that is no built site, naming the setting', async (t) => {
  const child = spawn(process.execPath, [server], {
    env: { PATH: process.env.PATH ?? '', SITE_DIR: path.dirname(server) + '/nowhere' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  t.equal(code, 2, 'a configuration error');
  t.match(output, /SITE_DIR must be a built site/);
});
