import t from 'tap';
import { expectCatalogueDocumented, expectHostileInputRefused } from '@mercado/common/testing';
import { inventoryErrors } from '../src/errors.js';
import { prepareInventorySweep, startInventory } from './helpers.js';

t.test(
  'no handler is reached with input its spec refuses; hostile input changes nothing',
  async (t) => {
    const inventory = await startInventory(t);
    const sweep = await prepareInventorySweep(inventory);
    const lookups = inventory.products.lookups;
    await expectHostileInputRefused(t, inventory, sweep, function askedNothing() {
      t.equal(inventory.products.lookups, lookups, 'no refused input asked the catalog anything');
    });
  },
);

t.test('the service answers with its own catalogue, documented and in its README', async (t) => {
  const { url } = await startInventory(t);
  await expectCatalogueDocumented(
    t,
    url,
    inventoryErrors,
    new URL('../README.md', import.meta.url),
  );
});
