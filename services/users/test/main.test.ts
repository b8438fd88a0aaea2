import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

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
