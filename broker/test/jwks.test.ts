import t from 'tap';
import { freePort } from '@mercado/common/testing';
import { startUsers, strongPassword } from '@mercado/users/testing';
import { refusedWith, startBroker } from './helpers.js';

/**
 * The broker's default key set for browsers' tokens: the users service's JWKS at JWKS_URL,
 * fetched on first use and cached by jose — against the real users service and its real tokens.
 */

async function signUp(users: Awaited<ReturnType<typeof startUsers>>, email: string) {
  const response = await users.call('POST', '/api/auth/register', {
    body: { email, password: strongPassword, name: 'Shopper' },
  });
  const { user, accessToken } = response.body as { user: { id: string }; accessToken: string };
  return { userId: user.id, accessToken };
}

t.test(
  'browsers connect with the users service’s tokens; its key set is fetched once',
  async (t) => {
    const users = await startUsers(t);
    const jwksUrl = `${users.url}/api/auth/jwks.json`;
    const { listeners, connect, token } = await startBroker(
      t,
      { JWKS_URL: jwksUrl },
      { remoteJwks: true },
    );
    const fetches = () => users.logs.text().split('"path":"/api/auth/jwks.json"').length - 1;
    t.equal(fetches(), 0, 'nothing fetched before a browser comes');

    const shoppers = [
      await signUp(users, 'ana@example.com'),
      await signUp(users, 'bea@example.com'),
    ];
    for (const [index, { userId, accessToken }] of shoppers.entries()) {
      const client = await connect(listeners.mqttUrl, {
        clientId: `web-${userId}-${index}`,
        username: 'browser',
        password: accessToken,
      });
      t.ok(client.connected, `shopper ${index + 1} connected with the token users issued`);
    }
    t.equal(fetches(), 1, 'the key set was fetched once and reused');

    const [ana] = shoppers;
    t.equal(
      await refusedWith(listeners.mqttUrl, {
        clientId: `web-${ana!.userId}-forged`,
        username: 'browser',
        password: await token(ana!.userId),
      }),
      4,
      'a token signed with a key the users service never published is refused',
    );
  },
);

t.test('a key set that cannot be fetched is "server unavailable", not a bad token', async (t) => {
  const { listeners, token } = await startBroker(
    t,
    { JWKS_URL: `http://127.0.0.1:${await freePort()}/api/auth/jwks.json` },
    { remoteJwks: true },
  );
  const userId = '3f0d7f4e-0000-4000-8000-0000000000e1';
  t.equal(
    await refusedWith(listeners.mqttUrl, {
      clientId: `web-${userId}-1`,
      username: 'browser',
      password: await token(userId),
    }),
    3,
    'CONNACK 3: the browser retries, and is not told its token is wrong',
  );
});
