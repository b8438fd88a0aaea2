import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadUsersConfig } from '../src/app.js';
import { internalSecret } from './helpers.js';

/** The built entry point, as an operator starts it (the test runner builds before it tests). */
const builtMain = fileURLToPath(new URL('../dist/main.js', import.meta.url));

t.test('the service with bad configuration stops with one line and exit code 2', async (t) => {
  const child = spawn(process.execPath, [builtMain], {
    env: { PATH: process.env.PATH },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise((resolve) => child.on('close', resolve));
  t.equal(code, 2);
  const lines = stderr
    .trim()
    .split('\n')
    .filter((line) => !line.startsWith('('));
  t.equal(lines.length, 1, stderr);
  t.match(
    lines[0],
    /^invalid configuration: .*DATABASE_URL is required.*INTERNAL_SECRET is required.*JWT_SIGNING_KEYS is required/,
  );
});

t.test('a time zone that is not an IANA one refuses to start, saying which setting', async (t) => {
  const env = {
    PATH: process.env.PATH,
    DATABASE_URL: 'postgres://nobody@127.0.0.1:1/users',
    INTERNAL_SECRET: internalSecret,
    JWT_SIGNING_KEYS: '[]',
  };
  const child = spawn(process.execPath, [builtMain], {
    env: { ...env, TERMINALS_TIME_ZONE: 'Mars/Olympus' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise((resolve) => child.on('close', resolve));
  t.equal(code, 2);
  t.same(
    stderr
      .trim()
      .split('\n')
      .filter((line) => !line.startsWith('(')),
    [
      'invalid configuration: TERMINALS_TIME_ZONE must be an IANA time zone name ' +
        '(such as Europe/Madrid or UTC)',
    ],
  );

  // Offsets and POSIX rules too: Postgres reads a POSIX offset's sign the other way round.
  for (const zone of ['Mars/Olympus', '+01:00', 'UTC+1', 'CET-1', 'Europe/', '../UTC']) {
    t.throws(
      () => loadUsersConfig({ ...env, TERMINALS_TIME_ZONE: zone }),
      { name: 'ConfigError', message: /TERMINALS_TIME_ZONE must be an IANA time zone/ },
      zone,
    );
  }
  for (const zone of ['UTC', 'Pacific/Auckland', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5']) {
    t.equal(loadUsersConfig({ ...env, TERMINALS_TIME_ZONE: zone }).TERMINALS_TIME_ZONE, zone);
  }
  t.equal(loadUsersConfig(env).TERMINALS_TIME_ZONE, 'UTC', 'UTC unless set');
});
