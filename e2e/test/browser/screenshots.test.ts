import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { signUpAdmin, strongPassword } from '@mercado/users/testing';
import { repoRoot, run } from '../terminals/till.js';
import { startStorefront } from './storefront.js';

/**
 * `npm run screenshots` (scripts/src/screenshots.ts) against a running shop: every main page at a
 * phone's and a desktop's width, as PNG files, signed in as a shopper, a seller and an admin.
 */
t.test('npm run screenshots renders the main pages at both widths', async (t) => {
  const shop = await startStorefront(t, { terminalRegistry: 'users' });
  const register = async (email: string, roles: string[]) => {
    const answer = await shop.system.api(undefined, 'POST', '/api/auth/register', {
      body: { email, password: strongPassword, name: 'Demo', roles },
    });
    t.equal(answer.status, 201, `${email} registered`);
    return `${email}:${strongPassword}`;
  };
  const shopper = await register('compras@example.com', ['customer']);
  const seller = await register('ventas@example.com', ['customer', 'seller']);
  await signUpAdmin(shop.system.users, 'jefa@example.com');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-shots-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  const done = await run(process.execPath, [path.join(repoRoot, 'scripts/dist/screenshots.js')], {
    SCREENSHOTS_URL: shop.url,
    SCREENSHOTS_SHOPPER: shopper,
    SCREENSHOTS_SELLER: seller,
    SCREENSHOTS_ADMIN: `jefa@example.com:${strongPassword}`,
    SCREENSHOTS_DIR: dir,
  }).finished;
  t.equal(done.code, 0, 'it ran', { stderr: done.stderr });
  const pages = ['catalog', 'product', 'cart', 'checkout', 'order', 'orders', 'seller', 'admin'];
  const files = (await readdir(dir)).sort();
  for (const name of pages) {
    for (const width of ['phone', 'desktop']) {
      const file = `${name}-${width}.png`;
      t.ok(files.includes(file), file);
      if (!files.includes(file)) continue;
      const png = await readFile(path.join(dir, file));
      t.same([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `${file} is a PNG`);
      // Its width, from the IHDR chunk: a phone's 390 or a desktop's 1366 CSS pixels.
      t.equal(png.readUInt32BE(16), width === 'phone' ? 390 : 1366, `${file}'s width`);
    }
  }
});
