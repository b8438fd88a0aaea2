import { readFile } from 'node:fs/promises';
import t from 'tap';
import {
  callService,
  expectHostileInputRefused,
  expectProblemAnswer,
} from '@mercado/common/testing';
import {
  declineReasons,
  refundReasons,
  refusalReasons,
  sandboxTestCards,
  terminalConditions,
} from '../src/app.js';
import { paymentsTables, startPayments } from './helpers.js';

t.test('payments answers HTTP with health, readiness and metrics only', async (t) => {
  const payments = await startPayments(t);
  const call = (method: string, path: string) => callService(payments.url, 'unused', method, path);
  t.match(await call('GET', '/health/live'), { status: 200 });
  t.match(await call('GET', '/health/ready'), {
    status: 200,
    body: { checks: { database: 'ok' } },
  });
  const metrics = await fetch(`${payments.url}/metrics`);
  t.equal(metrics.status, 200);
  t.match(await metrics.text(), /mercado_db_query_duration_seconds|http_request_duration_seconds/);
  for (const [method, path] of [
    ['GET', '/api/payments'],
    ['POST', '/api/orders/00000000-0000-4000-8000-000000000000/payments'],
    ['GET', '/internal/payments'],
    ['GET', '/openapi.json'],
    ['DELETE', '/'],
  ] as const) {
    expectProblemAnswer(t, await call(method, path), {
      name: `${method} ${path}`,
      status: 404,
      code: 'not_found',
    });
  }
});

t.test(
  'the kit’s hostile-input sweep: no route to refuse input for, and what Node’s parser refuses is problem+json; nothing changes',
  async (t) => {
    const payments = await startPayments(t);
    await expectHostileInputRefused(
      t,
      {
        ...payments,
        operations: [],
        call: (method, path, options) => callService(payments.url, 'unused', method, path, options),
      },
      {
        tables: paymentsTables,
        examples: {},
        unknownIds: [
          {
            name: 'a payment by id',
            method: 'GET',
            path: '/api/payments/p-1',
            status: 404,
            code: 'not_found',
          },
          {
            name: 'a charge over HTTP',
            method: 'POST',
            path: '/api/payments',
            body: { amountMinor: 1 },
            status: 404,
            code: 'not_found',
          },
        ],
        rawPaths: ['/health/ready', '/api/payments'],
      },
    );
  },
);

t.test('the README documents every result code and every test card', async (t) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Error codes'), readme.indexOf('## Tests'));
  for (const code of [
    ...Object.keys(refusalReasons),
    ...Object.keys(declineReasons),
    ...Object.keys(refundReasons),
  ]) {
    t.match(section, `\`${code}\``, code);
  }
  const terminals = readme.slice(
    readme.indexOf('### Error conditions'),
    readme.indexOf('## Cards'),
  );
  for (const code of Object.keys(terminalConditions)) {
    t.match(terminals, `\`${code}\``, `terminal condition ${code}`);
  }
  const cards = readme.slice(readme.indexOf('### Test cards'), readme.indexOf('## The store'));
  for (const number of Object.keys(sandboxTestCards)) {
    const spaced =
      number.length === 15
        ? `${number.slice(0, 4)} ${number.slice(4, 10)} ${number.slice(10)}`
        : number.replace(/(\d{4})(?=\d)/g, '$1 ');
    t.match(cards, `\`${spaced}\``, number);
  }
});
