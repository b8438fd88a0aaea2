import t from 'tap';
import { expectCatalogueDocumented, expectHostileInputRefused } from '@mercado/common/testing';
import { usersErrors } from '../src/errors.js';
import { prepareUsersSweep, startUsers } from './helpers.js';

t.test(
  'no handler is reached with input its spec refuses; hostile input changes nothing',
  async (t) => {
    const users = await startUsers(t);
    await expectHostileInputRefused(t, users, await prepareUsersSweep(users));
  },
);

t.test('the service answers with its own catalogue, documented and in its README', async (t) => {
  const { url } = await startUsers(t);
  await expectCatalogueDocumented(t, url, usersErrors, new URL('../README.md', import.meta.url));
});
