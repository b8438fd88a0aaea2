import t from 'tap';
import { censor, isSensitiveKey } from '@mercado/common/log';
import { captureLogs } from '@mercado/common/testing';

const redacted = censor;

t.test('secrets are censored at any depth of a logged object, and nothing else is', async (t) => {
  const { log, lines, text } = captureLogs('log');
  // Every secret is a needle of its own, and the same needles are logged once under ordinary
  // keys first: they do reach the output when nothing censors them.
  const needles = {
    password: 'needle-password-1',
    token: 'needle-token-2',
    secret: 'needle-secret-3',
    authorization: 'needle-authorization-4',
    cookie: 'needle-cookie-5',
    card: 'needle-card-6',
    cvc: 'needle-cvc-7',
    pan: '4242 4242 4242 4242',
  };
  log.info({ ordinary: Object.values(needles) }, 'control');
  for (const needle of Object.values(needles))
    t.ok(text().includes(needle), `${needle} can appear`);

  const careless = {
    password: needles.password,
    user: { id: 'u-1', email: 'ana@example.com', refreshToken: needles.token },
    request: {
      headers: {
        Authorization: `Bearer ${needles.authorization}`,
        'Set-Cookie': [`sid=${needles.cookie}`],
        accept: 'application/json',
      },
      body: { items: [{ productId: 'p-1', quantity: 2 }], payment: { cvc: needles.cvc } },
    },
    deep: { a: { b: { c: { d: { e: { internal_secret: needles.secret, kept: 'visible' } } } } } },
    list: [[{ card: { number: needles.card, brand: 'visa' } }], { number: needles.pan }],
    status: 201,
    ms: 12.5,
    number: 3,
  };
  log.info(careless, 'careless');

  const line = lines.find((entry) => entry.msg === 'careless')!;
  t.same(line, {
    level: 'info',
    time: line.time,
    name: 'log',
    service: 'log',
    msg: 'careless',
    password: redacted,
    user: { id: 'u-1', email: 'ana@example.com', refreshToken: redacted },
    request: {
      headers: { Authorization: redacted, 'Set-Cookie': redacted, accept: 'application/json' },
      body: { items: [{ productId: 'p-1', quantity: 2 }], payment: { cvc: redacted } },
    },
    deep: { a: { b: { c: { d: { e: { internal_secret: redacted, kept: 'visible' } } } } } },
    list: [[{ card: redacted }], { number: redacted }],
    status: 201,
    ms: 12.5,
    number: 3,
  });
  const careLine = text()
    .split('\n')
    .find((raw) => raw.includes('"careless"'))!;
  for (const needle of Object.values(needles)) {
    t.notOk(careLine.includes(needle), `${needle} is not logged`);
  }
  t.equal(careless.password, needles.password, "the caller's object is left as it was");
  t.equal(careless.request.headers.Authorization, `Bearer ${needles.authorization}`);
  t.same(careless.list[1], { number: needles.pan });
});

t.test('a key named number is censored only when it looks like a card number', async (t) => {
  const { log, lines } = captureLogs('log');
  const numbers = [3, '12', 'A-1234', 4242424242424242, '4000 0000 0000 0002', '4000-0000-0000'];
  log.info({ lines: numbers.map((number) => ({ number })) }, 'numbers');
  t.same(lines[0]!.lines, [
    { number: 3 },
    { number: '12' },
    { number: 'A-1234' },
    { number: redacted },
    { number: redacted },
    { number: redacted },
  ]);
});

t.test('which keys are secrets: by word, whatever the case or separator', async (t) => {
  const secrets = [
    'password',
    'newPassword',
    'PASSWORD',
    'access_token',
    'refreshToken',
    'x-api-key',
    'apiKey',
    'privateKey',
    'client-secret',
    'Proxy-Authorization',
    'cookie',
    'set-cookie',
    'cardNumber',
    'card',
    'cvc',
    'cvv',
    'pin',
    'x-mercado-identity',
    'x-mercado-identity-signature',
  ];
  const ordinary = [
    'status',
    'ms',
    'number',
    'cardinality',
    'tokenizer',
    'secretary',
    'discard',
    'key',
    'spinner',
    'requestId',
    'path',
  ];
  t.same(
    secrets.filter((key) => !isSensitiveKey(key)),
    [],
    'every secret key is recognised',
  );
  t.same(
    ordinary.filter((key) => isSensitiveKey(key)),
    [],
    'no ordinary key is',
  );
});

t.test('errors keep their shape; what they carry is censored too', async (t) => {
  const { log, lines } = captureLogs('log');
  const cause = { request: { headers: { authorization: 'Bearer needle-cause' } } };
  const error = Object.assign(new Error('upstream refused', { cause }), {
    code: 'ECONNREFUSED',
    config: { password: 'needle-config' },
  });
  log.error({ err: error }, 'failed');
  log.error(error);
  for (const line of lines) {
    t.match(line.err, {
      type: 'Error',
      message: 'upstream refused',
      stack: /upstream refused/,
      code: 'ECONNREFUSED',
      config: { password: redacted },
    });
    t.notMatch(JSON.stringify(line), /needle-/);
  }
  t.same(error.config, { password: 'needle-config' }, 'the error itself is left as it was');
  t.equal(error.cause, cause);
});

t.test('circular and very deep objects are logged without harm', async (t) => {
  const { log, lines } = captureLogs('log');
  const circular: Record<string, unknown> = { name: 'loop', token: 'needle-loop' };
  circular.self = circular;
  log.info({ circular }, 'circular');
  t.match(lines[0], { circular: { name: 'loop', token: redacted, self: '[Circular]' } });

  let deep: Record<string, unknown> = { password: 'needle-deep' };
  for (let i = 0; i < 200; i++) deep = { next: deep };
  log.info({ deep }, 'deep');
  t.equal(lines[1]!.msg, 'deep');
  t.notMatch(JSON.stringify(lines[1]), /needle-deep/);
});
