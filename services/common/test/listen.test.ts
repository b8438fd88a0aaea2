import http from 'node:http';
import t from 'tap';
import { buildHttpApp, listen } from '@mercado/common/http';
import { createMetrics } from '@mercado/common/metrics';
import {
  captureLogs,
  expectProblemAnswer,
  sendRawHttp,
  unparsableRequests,
} from '@mercado/common/testing';

t.test('listen builds requests and responses on the express app prototypes', async (t) => {
  let prototypes: [boolean, boolean] | undefined;
  let swaps = 0;
  const app = buildHttpApp({
    name: 'test',
    log: captureLogs().log,
    metrics: createMetrics('test'),
    bodyLimitBytes: 1024,
    routes(app) {
      app.post('/echo', function echo(req, res) {
        prototypes = [
          Object.getPrototypeOf(req) === app.request,
          Object.getPrototypeOf(res) === app.response,
        ];
        res.json({ body: req.body, id: req.id, isRequest: req instanceof http.IncomingMessage });
      });
    },
  });
  const setPrototypeOf = Object.setPrototypeOf;
  Object.setPrototypeOf = function countSwaps(target: object, prototype: object | null) {
    if (Object.getPrototypeOf(target) !== prototype) swaps++;
    return setPrototypeOf(target, prototype);
  };
  t.teardown(() => {
    Object.setPrototypeOf = setPrototypeOf;
  });
  const server = await listen(app);
  t.teardown(() => server.close(100));

  const response = await fetch(`${server.url}/echo`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'r-1' },
    body: '{"a":1}',
  });
  t.same(await response.json(), { body: { a: 1 }, id: 'r-1', isRequest: true });
  t.same(prototypes, [true, true]);
  t.equal(swaps, 0, 'express found nothing to swap');
});

t.test('listen serves a plain request listener as before', async (t) => {
  const server = await listen(function plain(req, res) {
    res.end(`${Object.getPrototypeOf(req) === http.IncomingMessage.prototype}`);
  });
  t.teardown(() => server.close(100));
  t.equal(await (await fetch(server.url)).text(), 'true');
});

t.test(
  'a request Node cannot parse is answered problem+json, then the connection ends',
  async (t) => {
    const app = buildHttpApp({
      name: 'test',
      log: captureLogs().log,
      metrics: createMetrics('test'),
      bodyLimitBytes: 1024,
      routes(app) {
        app.get('/', function never(_req, res) {
          res.json({ reached: true });
        });
      },
    });
    const server = await listen(app);
    t.teardown(() => server.close(100));
    for (const { name, bytes, status, code } of unparsableRequests()) {
      const answer = await sendRawHttp(server.url, bytes);
      expectProblemAnswer(t, answer, { name, status, code });
      t.equal(answer.headers.get('connection'), 'close', `${name}: the connection closes`);
    }
    const fine = await sendRawHttp(
      server.url,
      'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    t.same([fine.status, fine.body], [200, { reached: true }], 'the server goes on serving');
  },
);
