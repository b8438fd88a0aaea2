import net from 'node:net';

/**
 * Opens many idle, authenticated MQTT connections, for bench/broker.ts, in a process of its own
 * (its own file-descriptor limit, raised by the parent's `ulimit` wrapper, and its own memory).
 * Each one is a raw TCP socket with TCP_NODELAY that writes a hand-built MQTT 3.1.1 CONNECT
 * (clean session, keep-alive BENCH_IDLE_KEEPALIVE seconds, the given credentials) and waits for
 * CONNACK `20 02 00 00`: an mqtt.js client per connection would cost this process far more memory
 * than the broker spends on it.
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

/** MQTT's Remaining Length: 7 bits a byte, low first, the high bit saying more follow (§2.2.3). */
function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

/** A length-prefixed UTF-8 string (§1.5.3). */
function mqttString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const out = Buffer.alloc(2 + bytes.length);
  out.writeUInt16BE(bytes.length, 0);
  bytes.copy(out, 2);
  return out;
}

/** CONNECT, MQTT 3.1.1 (§3.1): protocol `MQTT` level 4, user name + password + clean session. */
function connectPacket(clientId: string): Buffer {
  const flags = (username ? 0x80 : 0) | (password ? 0x40 : 0) | 0x02;
  const variableHeader = Buffer.from([
    0x00,
    0x04,
    ...Buffer.from('MQTT'),
    0x04,
    flags,
    keepaliveSeconds >> 8,
    keepaliveSeconds & 0xff,
  ]);
  const body = Buffer.concat([
    variableHeader,
    mqttString(clientId),
    ...(username ? [mqttString(username)] : []),
    ...(password ? [mqttString(password)] : []),
  ]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
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
      if (received.length < 4) return;
      if (received[0] === 0x20 && received[1] === 0x02 && received[3] === 0x00) {
        settle({ ok: true });
      } else if (received[0] === 0x20) {
        settle({ ok: false, refused: true, problem: `CONNACK return code ${received[3]}` });
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
