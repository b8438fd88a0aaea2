import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createLogger, currentContext, runWithContext } from '@mercado/common/log';

/**
 * `node scripts/dist/bench-log.js`: what censoring secrets at any depth costs a log line, against
 * pino's fixed-path redaction the logger used before (`*.password` reached one level down) and
 * against no redaction at all. Prints ns per line for the access log's line, the line every request
 * writes, and for a line carrying a careless object with secrets two and three levels down.
 */

const fixedPaths = [
  'password',
  'currentPassword',
  'newPassword',
  'token',
  'accessToken',
  'refreshToken',
  'secret',
  'authorization',
  'cookie',
  'card',
  'cardNumber',
  'cvc',
  'cvv',
  'privateKey',
];
const previousPaths = [
  ...fixedPaths,
  ...fixedPaths.map((key) => `*.${key}`),
  ...fixedPaths.map((key) => `*.*.${key}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-mercado-identity"]',
  'req.headers["x-mercado-identity-signature"]',
  'res.headers["set-cookie"]',
];

const discard = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

function pinoWith(redact: boolean) {
  return pino(
    {
      name: 'bench',
      base: { service: 'bench' },
      ...(redact ? { redact: { paths: previousPaths, censor: '[redacted]' } } : {}),
      formatters: { level: (label: string) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
      // As the kit's logger does: the request id from the async context.
      mixin() {
        const context = currentContext();
        return context ? { requestId: context.requestId } : {};
      },
    },
    discard(),
  );
}

const loggers = {
  'no redaction': pinoWith(false),
  'pino fixed paths (before)': pinoWith(true),
  'any depth (now)': createLogger({ name: 'bench', destination: discard() }),
};

const lines = {
  'access log line': () => ({ method: 'GET', path: '/api/products/p-1', status: 200, ms: 1.234 }),
  'careless object': () => ({
    userId: 'u-1',
    body: { email: 'a@example.com', password: 'x', profile: { card: { number: '4242' } } },
    headers: { authorization: 'Bearer x', accept: 'application/json' },
  }),
};

const iterations = 50_000;
const rounds = 9;

/** ns per line of `iterations` lines. */
function time(log: (typeof loggers)[keyof typeof loggers], make: () => object): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) log.info(make(), 'request');
  return Number(process.hrtime.bigint() - started) / iterations;
}

runWithContext({ requestId: 'c0a8012e-7d4f-4e83-a0b5-6c3f8d2e1a23' }, () => {
  for (const [lineName, make] of Object.entries(lines)) {
    // Loggers take turns round after round, so a busy moment of the machine hits them alike; the
    // best round of each is reported.
    const best = new Map(Object.keys(loggers).map((name) => [name, Number.POSITIVE_INFINITY]));
    for (let round = 0; round <= rounds; round++) {
      for (const [loggerName, log] of Object.entries(loggers)) {
        const ns = time(log, make);
        if (round > 0) best.set(loggerName, Math.min(best.get(loggerName)!, ns)); // round 0 warms up
      }
    }
    for (const [loggerName, ns] of best) {
      console.log(`${lineName.padEnd(16)} ${loggerName.padEnd(26)} ${ns.toFixed(0)} ns/line`);
    }
  }
});
