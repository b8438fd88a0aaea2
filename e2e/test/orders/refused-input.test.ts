import t from 'tap';
import { expectCatalogueDocumented, expectHostileInputRefused } from '@mercado/common/testing';
import { ordersErrors, ordersReadme, prepareOrdersSweep, startShop } from './shop.js';

t.test(
  'no handler is reached with input its spec refuses; hostile input changes nothing',
  async (t) => {
    const shop = await startShop(t);
    const sweep = await prepareOrdersSweep(shop);
    await expectHostileInputRefused(t, shop.orders, sweep);
  },
);

t.test(
  'a malformed Cart-Token or Idempotency-Key is refused before anything is written',
  async (t) => {
    const shop = await startShop(t);
    const sweep = await prepareOrdersSweep(shop);
    const before = await Promise.all(sweep.tables.map((table) => shop.orders.db(table).count()));
    for (const token of ['', 'x', 'A'.repeat(44), `${'A'.repeat(42)}\u00e9`]) {
      const answer = await shop.orders.call('POST', '/api/cart/items', {
        identity: { roles: [] },
        headers: { 'cart-token': token },
        body: { productId: '00000000-0000-4000-8000-000000000000', quantity: 1 },
      });
      t.match(
        answer,
        { status: 400, body: { code: 'cart_token_invalid' } },
        `token ${JSON.stringify(token).slice(0, 12)}`,
      );
    }
    for (const key of ['', 'k'.repeat(256), 'tab\there']) {
      const answer = await shop.orders.call('POST', '/api/orders', {
        identity: { userId: '00000000-0000-4000-8000-000000000001', roles: ['customer'] },
        headers: { 'idempotency-key': key },
        body: {
          shippingAddress: { name: 'A', line1: 'B', city: 'C', postalCode: 'D', country: 'ES' },
        },
      });
      t.match(answer, { status: 400, body: { code: 'idempotency_key_required' } });
    }
    t.same(await Promise.all(sweep.tables.map((table) => shop.orders.db(table).count())), before);
  },
);

t.test('the service answers with its own catalogue, documented and in its README', async (t) => {
  const { orders } = await startShop(t);
  await expectCatalogueDocumented(t, orders.url, ordersErrors, ordersReadme);
});
