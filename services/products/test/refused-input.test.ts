import t from 'tap';
import { expectCatalogueDocumented, expectHostileInputRefused } from '@mercado/common/testing';
import { productsErrors } from '../src/errors.js';
import { prepareProductsSweep, startProducts } from './helpers.js';

t.test(
  'no handler is reached with input its spec refuses; hostile input changes nothing',
  async (t) => {
    const products = await startProducts(t);
    await expectHostileInputRefused(t, products, await prepareProductsSweep(products));
  },
);

t.test('the service answers with its own catalogue, documented and in its README', async (t) => {
  const { url } = await startProducts(t);
  await expectCatalogueDocumented(t, url, productsErrors, new URL('../README.md', import.meta.url));
});
