import net from 'node:net';
import { decodePacket, encode } from '@mercado/common/testing';

/**
 * Opens many idle, authenticated MQTT connections, for bench/broker.ts, in a process of its own
 * (its own file-descriptor limit, raised by the parent's `ulimit` wrapper, and its own memory).
 * Each one is a raw TCP socket with TCP_NODELAY that writes a hand-built MQTT 3.1.1 CONNECT
 * (clean session, keep-alive BENCH_IDLE_KEEPALIVE seconds, the given credentials; built by the
 * kit's raw encoder in `@mercado/common/testing`) and waits for CONNACK `20 02 00 00`: an mqtt.js
 * client per connection would cost this process far more memory than the broker spends on it.
 *
 * argv: port count concurrency; env: BENCH_IDLE_USERNAME, BENCH_IDLE_PASSWORD,
 * BENCH_IDLE_CLIENT_PREFIX (the client id is the prefix and the connection's number).
 * IPC: sends `{ type: 'opened', … }` once every connection is settled; answers `{ type: 'check' }`
 * with how many accepted connections are still open; `{ type: 'close' }` or the parent going away
 * closes them all and exits.
 */

export type IdleRequest = { type: 'check' } | { type: 'close' };
export type IdleMessage =
  | {
      type: 'opened';
      accepted: number;
      refused: number;
      failed: number;
      /** The first refusal or failure, e.g. `CONNACK return code 5` or `EMFILE`. */
      firstProblem?: string;
      ms: number;
    }
  | { type: 'open'; open: number };

const [portArgument, countArgument, concurrencyArgument] = process.argv.slice(2);
const port = Number(portArgument);
const count = Number(countArgument);
const concurrency = Number(concurrencyArgument ?? 200);
if (!process.send || !(port > 0) || !(count >= 0) || !(concurrency > 0)) {
  process.stderr.write('usage: broker-idle PORT COUNT [CONCURRENCY] (as a child with IPC)\n');
  process.exit(2);
}
const username = process.env.BENCH_IDLE_USERNAME ?? '';
const password = process.env.BENCH_IDLE_PASSWORD ?? '';
const clientPrefix = process.env.BENCH_IDLE_CLIENT_PREFIX ?? 'idle-';
const keepaliveSeconds = Number(process.env.BENCH_IDLE_KEEPALIVE ?? 60);
const connackTimeoutMs = 15_000;

const send = (message: IdleMessage) => process.send!(message);

/** CONNECT, MQTT 3.1.1 (§3.1): protocol `MQTT` level 4, user name + password + clean session. */
function connectPacket(clientId: string): Buffer {
  return encode.connect({
    clientId,
    keepalive: keepaliveSeconds,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  });
}

const sockets: net.Socket[] = [];
let open = 0;

type Outcome = { ok: true } | { ok: false; refused: boolean; problem: string };

function openOne(index: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    let received = Buffer.alloc(0);
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      if (outcome.ok) {
        open++;
        sockets.push(socket);
        socket.once('close', () => open--);
      } else {
        socket.destroy();
      }
      resolve(outcome);
    };
    const timer = setTimeout(
      () => settle({ ok: false, refused: false, problem: 'no CONNACK in time' }),
      connackTimeoutMs,
    );
    function onData(chunk: Buffer) {
      received = Buffer.concat([received, chunk]);
      const first = decodePacket(received);
      if (!first) return;
      // CONNACK (§3.2): the session-present flag, then the return code.
      const returnCode = first.type === 2 ? first.body[1] : undefined;
      if (returnCode === 0) {
        settle({ ok: true });
      } else if (first.type === 2) {
        settle({ ok: false, refused: true, problem: `CONNACK return code ${returnCode}` });
      } else {
        settle({
          ok: false,
          refused: false,
          problem: `not a CONNACK: 0x${received[0]!.toString(16)}`,
        });
      }
    }
    socket.on('data', onData);
    socket.once('connect', () => socket.write(connectPacket(`${clientPrefix}${index}`)));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      settle({ ok: false, refused: false, problem: error.code ?? error.message });
    });
    socket.once('close', () =>
      settle({ ok: false, refused: false, problem: 'closed before CONNACK' }),
    );
  });
}

const started = performance.now();
let next = 0;
let accepted = 0;
let refused = 0;
let failed = 0;
let firstProblem: string | undefined;
async function worker() {
  while (next < count) {
    const outcome = await openOne(next++);
    if (outcome.ok) {
      accepted++;
      continue;
    }
    if (outcome.refused) refused++;
    else failed++;
    firstProblem ??= outcome.problem;
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
send({
  type: 'opened',
  accepted,
  refused,
  failed,
  ...(firstProblem ? { firstProblem } : {}),
  ms: performance.now() - started,
});

function closeAll() {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
}
process.on('message', function onRequest(request: IdleRequest) {
  if (request.type === 'check') send({ type: 'open', open });
  else closeAll();
});
process.on('disconnect', closeAll);
process.on('SIGTERM', closeAll);
process.on('SIGINT', closeAll);
