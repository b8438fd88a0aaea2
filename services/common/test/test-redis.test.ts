import net from 'node:net';
import t from 'tap';
import { startTestRedis } from '@mercado/common/testing';

/** Sends RESP commands on one fresh connection and returns each reply's first line. */
async function ask(port: number, commands: string[][]): Promise<string[]> {
  const socket = net.connect(port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  const replies: string[] = [];
  let buffered = '';
  const done = new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', function collect(chunk: Buffer) {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\r\n');
      buffered = lines.pop() ?? '';
      replies.push(...lines.filter((line) => /^[+-]/.test(line)));
      if (replies.length >= commands.length) resolve();
    });
  });
  for (const command of commands) {
    socket.write(
      `*${command.length}\r\n${command.map((part) => `$${Buffer.byteLength(part)}\r\n${part}\r\n`).join('')}`,
    );
  }
  await done;
  return replies;
}

t.test(
  'the test Redis requires its password, as Compose’s does, and its URL carries it',
  async (t) => {
    const redis = await startTestRedis(t);
    const url = new URL(redis.url);
    t.equal(decodeURIComponent(url.password), redis.password);
    t.equal(Number(url.port), redis.port);
    t.same(
      await ask(redis.port, [['PING']]),
      ['-NOAUTH Authentication required.'],
      'a client without it is refused',
    );
    t.same(await ask(redis.port, [['AUTH', 'wrong'], ['PING']]), [
      '-WRONGPASS invalid username-password pair or user is disabled.',
      '-NOAUTH Authentication required.',
    ]);
    t.same(await ask(redis.port, [['AUTH', redis.password], ['PING']]), ['+OK', '+PONG']);
  },
);
