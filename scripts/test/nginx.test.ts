import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import {
  createMercadoBroker,
  loadBrokerConfig,
  startListeners,
  systemClock,
} from '@mercado/broker/testing';
import { createMetrics } from '@mercado/common/metrics';
import {
  captureLogs,
  eventually,
  freePort,
  testBrokerCredentials,
  testServiceMqttCredentials,
} from '@mercado/common/testing';
import { renderNginxConfig, type NginxConfigOptions } from '../src/nginx-config.js';
import { nginxStreamModule } from '../src/system-packages.js';

/**
 * The load balancer's rendered nginx configuration (scripts/src/nginx-config.ts): `nginx -t`
 * accepts it, TLS included, and a real nginx running it routes, fails over only what may be sent
 * again, passes the real client address and the request id, limits with a 429 problem+json, logs
 * JSON, and carries MQTT's TCP stream.
 */
interface TestContext {
  teardown(fn: () => unknown): void;
}

async function folder(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-nginx-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'temp'));
  return dir;
}

function files(dir: string) {
  return {
    pidFile: path.join(dir, 'nginx.pid'),
    accessLog: path.join(dir, 'access.log'),
    tempDir: path.join(dir, 'temp'),
    streamModule: nginxStreamModule,
  };
}

function nginxTest(conf: string, dir: string) {
  return spawnSync('nginx', ['-t', '-q', '-p', dir, '-c', conf], { encoding: 'utf8' });
}

/** An HTTP stub: what it was asked, and an answer; `destroyPosts` drops a POST unanswered. */
async function stub(t: TestContext, name: string, { destroyPosts = false } = {}) {
  const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }> = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    if (destroyPosts && req.method === 'POST') {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name} ${req.method} ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  return { seen, address: `127.0.0.1:${(server.address() as net.AddressInfo).port}` };
}

async function runNginx(t: TestContext, options: NginxConfigOptions, dir: string) {
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(conf, renderNginxConfig(options));
  const child = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGQUIT');
    await exited;
  });
  const base = `http://127.0.0.1:${options.httpPort}`;
  await eventually('nginx listening', () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${errors}`);
    return fetch(`${base}/`).then(
      () => true,
      () => false,
    );
  });
  return base;
}

t.test('nginx -t accepts the rendered configuration, with TLS and without', async (t) => {
  const dir = await folder(t);
  const key = path.join(dir, 'tls.key');
  const certificate = path.join(dir, 'tls.crt');
  const made = spawnSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=shop.example',
    '-keyout',
    key,
    '-out',
    certificate,
  ]);
  t.equal(made.status, 0, 'a self-signed certificate');
  const base = {
    frontends: ['frontend-1:8090', 'frontend-2:8090'],
    gateways: ['gateway-1:8080', 'gateway-2:8080'],
    brokersHttp: ['broker-1:8883', 'broker-2:8883'],
    brokersMqtt: ['broker-1:1883', 'broker-2:1883'],
    httpPort: await freePort(),
    mqttPort: await freePort(),
    ...files(dir),
  };
  for (const [label, options] of [
    ['plain', base],
    [
      'TLS',
      {
        ...base,
        tls: { certificate, key, httpsPort: await freePort(), mqttsPort: await freePort() },
      },
    ],
    [
      'TLS and the PROXY protocol to the brokers',
      {
        ...base,
        brokerProxyProtocol: true,
        tls: { certificate, key, httpsPort: await freePort(), mqttsPort: await freePort() },
      },
    ],
  ] as const) {
    // Compose's names resolve only inside Compose: nginx -t checks the rest.
    const conf = path.join(dir, `${label.replace(/\W+/g, '-')}.conf`);
    await writeFile(
      conf,
      renderNginxConfig(options).replace(/server ([a-z0-9-]+):(\d+)/g, 'server 127.0.0.1:$2'),
    );
    const checked = nginxTest(conf, dir);
    t.equal(checked.status, 0, `${label}: nginx -t`, { stderr: checked.stderr });
  }
  t.throws(() => renderNginxConfig({ ...base, gateways: [] }), /gateways: no replica/);
  t.throws(
    () => renderNginxConfig({ ...base, frontends: ['frontend-1:8090;evil'] }),
    /not host:port/,
  );
  t.throws(() => renderNginxConfig({ ...base, apiRate: '5r/s; x' }), /apiRate/);
});

t.test(
  'a real nginx: routes, fails over only what may be sent again, passes the client, limits, logs, streams MQTT',
  async (t) => {
    const dir = await folder(t);
    const frontend = await stub(t, 'frontend');
    const dropper = await stub(t, 'dropper', { destroyPosts: true });
    const gateway = await stub(t, 'gateway');
    const mqtt = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => mqtt.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise((resolve) => mqtt.close(resolve)));
    const mqttPort = await freePort();
    const base = await runNginx(
      t,
      {
        frontends: [frontend.address],
        // Kept in the rotation after a failure, so that each request meets the dropper in turn.
        gateways: [dropper.address, gateway.address],
        brokersHttp: [frontend.address],
        brokersMqtt: [`127.0.0.1:${(mqtt.address() as net.AddressInfo).port}`],
        httpPort: await freePort(),
        mqttPort,
        maxFails: 0,
        // One worker: one round robin, which each request meets in turn.
        workerProcesses: 1,
        apiRate: '1000r/s',
        ...files(dir),
      },
      dir,
    );

    const home = await fetch(`${base}/`);
    t.equal(await home.text(), 'frontend GET /', 'the storefront from a frontend');

    // Two GETs: one meets the dropper first (round robin)... which answers GETs, so both are 200
    // from whichever; two POSTs: the one sent to the dropper, which took it and closed, is not
    // sent again (502), the other is the gateway's.
    const posts = [];
    for (let i = 0; i < 2; i++) {
      posts.push((await fetch(`${base}/api/orders`, { method: 'POST', body: '{}' })).status);
    }
    t.same(posts.sort(), [200, 502], 'the POST that reached an upstream is never re-sent');
    t.equal(dropper.seen.filter((r) => r.method === 'POST').length, 1);
    t.equal(gateway.seen.filter((r) => r.method === 'POST').length, 1, 'once, not twice');

    const answer = await fetch(`${base}/api/users/me`, {
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-request-id': 'client-request-0001' },
    });
    t.equal(answer.status, 200);
    t.equal(answer.headers.get('x-request-id'), 'client-request-0001', 'the request id passed on');
    const asked = [...dropper.seen, ...gateway.seen].find((r) => r.url === '/api/users/me')!;
    t.equal(asked.headers['x-forwarded-for'], '127.0.0.1', 'the real client, not what it claimed');
    t.equal(asked.headers['x-request-id'], 'client-request-0001');
    const odd = await fetch(`${base}/api/users/me`, { headers: { 'x-request-id': 'no good' } });
    t.match(odd.headers.get('x-request-id'), /^[0-9a-f]{32}$/, 'an implausible id replaced');

    // MQTT over TCP, through the stream block.
    const echoed = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(mqttPort, '127.0.0.1', () => socket.write('ping'));
      socket.once('data', (data) => {
        resolve(data.toString());
        socket.destroy();
      });
      socket.once('error', reject);
    });
    t.equal(echoed, 'ping', 'the MQTT port carries the stream to a broker node');

    const log = (await readFile(path.join(dir, 'access.log'), 'utf8')).trim().split('\n');
    const line = log
      .map((entry) => JSON.parse(entry))
      .find((entry) => entry.uri === '/api/users/me');
    t.match(line, { method: 'GET', status: 200, request_id: 'client-request-0001' }, 'JSON logs');
  },
);

t.test('the API limit answers 429 problem+json', async (t) => {
  const dir = await folder(t);
  const frontend = await stub(t, 'frontend');
  const gateway = await stub(t, 'gateway');
  const base = await runNginx(
    t,
    {
      frontends: [frontend.address],
      gateways: [gateway.address],
      brokersHttp: [frontend.address],
      brokersMqtt: [frontend.address],
      httpPort: await freePort(),
      mqttPort: await freePort(),
      // One request a minute and no burst: the second is over the limit whatever the machine's speed.
      apiRate: '1r/m',
      apiBurst: 0,
      workerProcesses: 1,
      ...files(dir),
    },
    dir,
  );
  t.equal((await fetch(`${base}/api/products`)).status, 200);
  const limited = await fetch(`${base}/api/products`);
  t.equal(limited.status, 429);
  t.equal(limited.headers.get('content-type'), 'application/problem+json');
  t.match(await limited.json(), { status: 429, code: 'rate_limited' });
  t.equal((await fetch(`${base}/`)).status, 200, 'pages are not the API’s limit');
});

t.test(
  'an upstream that refuses the connection: every request moves on, POSTs too (none was sent)',
  async (t) => {
    const dir = await folder(t);
    const frontend = await stub(t, 'frontend');
    const gateway = await stub(t, 'gateway');
    const dead = `127.0.0.1:${await freePort()}`;
    const base = await runNginx(
      t,
      {
        frontends: [dead, frontend.address],
        gateways: [dead, gateway.address],
        brokersHttp: [frontend.address],
        brokersMqtt: [frontend.address],
        httpPort: await freePort(),
        mqttPort: await freePort(),
        maxFails: 0,
        workerProcesses: 1,
        ...files(dir),
      },
      dir,
    );
    const statuses = [];
    for (let i = 0; i < 2; i++) {
      statuses.push((await fetch(`${base}/api/products`)).status);
      statuses.push((await fetch(`${base}/api/orders`, { method: 'POST', body: '{}' })).status);
      statuses.push((await fetch(`${base}/`)).status);
    }
    t.same(statuses, [200, 200, 200, 200, 200, 200], 'a dead replica costs nobody an answer');
    t.equal(gateway.seen.filter((r) => r.method === 'POST').length, 2, 'each POST once');
  },
);

t.test(
  'with brokerProxyProtocol each MQTT stream connection opens with a PROXY v1 line naming the client',
  async (t) => {
    const dir = await folder(t);
    const frontend = await stub(t, 'frontend');
    // A stub broker node: what nginx sends first on each connection, up to the client's bytes.
    const received: string[] = [];
    const node = net.createServer((socket) => {
      let bytes = '';
      socket.on('data', (chunk: Buffer) => {
        bytes += chunk.toString('latin1');
        if (bytes.endsWith('ping')) {
          received.push(bytes);
          socket.end('pong');
        }
      });
    });
    await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise((resolve) => node.close(resolve)));
    const mqttPort = await freePort();
    await runNginx(
      t,
      {
        frontends: [frontend.address],
        gateways: [frontend.address],
        brokersHttp: [frontend.address],
        brokersMqtt: [`127.0.0.1:${(node.address() as net.AddressInfo).port}`],
        brokerProxyProtocol: true,
        httpPort: await freePort(),
        mqttPort,
        workerProcesses: 1,
        ...files(dir),
      },
      dir,
    );
    const clientPort = await new Promise<number>((resolve, reject) => {
      const socket = net.connect(mqttPort, '127.0.0.1', () => socket.write('ping'));
      socket.once('data', () => {
        resolve(socket.localPort!);
        socket.destroy();
      });
      socket.once('error', reject);
    });
    t.same(
      received,
      [`PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${mqttPort}\r\nping`],
      'the client’s own address and port, then its bytes untouched',
    );
  },
);

/** mosquitto_pub's exit code (asynchronously: the broker it talks to runs in this process). */
function mosquittoPub(args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('mosquitto_pub', args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
}

t.test(
  'the real broker behind nginx’s PROXY stream limits and logs mosquitto_pub by its own address',
  async (t) => {
    const dir = await folder(t);
    const frontend = await stub(t, 'frontend');
    // 4 a minute: a burst of 1 per address, on a clock that stands still.
    const frozen = Date.now();
    const config = loadBrokerConfig({
      INTERNAL_SECRET: 'nginx-test-internal-secret-long-enough-0123456789',
      ...testBrokerCredentials(),
      JWKS_URL: 'http://127.0.0.1:1/jwks.json',
      MQTT_PORT: '0',
      PORT: '0',
      MQTT_PROXY_PORT: '0',
      MQTT_PROXY_TRUSTED: '127.0.0.1',
      CONNECTIONS_PER_IP_PER_MINUTE: '4',
    });
    const logs = captureLogs('broker');
    const metrics = createMetrics('broker');
    const broker = await createMercadoBroker({
      config,
      log: logs.log,
      metrics,
      clock: { ...systemClock, now: () => frozen },
    });
    const listeners = await startListeners(broker, { config, log: logs.log, metrics });
    t.teardown(async () => {
      await broker.close();
      await listeners.close();
    });
    const mqttPort = await freePort();
    await runNginx(
      t,
      {
        frontends: [frontend.address],
        gateways: [frontend.address],
        brokersHttp: [frontend.address],
        brokersMqtt: [new URL(listeners.mqttProxyUrl!).host],
        brokerProxyProtocol: true,
        httpPort: await freePort(),
        mqttPort,
        maxFails: 0,
        workerProcesses: 1,
        ...files(dir),
      },
      dir,
    );
    const { username, password } = testServiceMqttCredentials('inventory');
    let published = 0;
    // A foreign client on its own loopback address (all of 127.0.0.0/8 is lo), through nginx.
    const publishFrom = (address: string) =>
      mosquittoPub([
        ...['-h', '127.0.0.1', '-p', String(mqttPort), '-A', address, '-V', 'mqttv311'],
        ...['-u', username, '-P', password, '-i', `inventory-pub-${published++}`, '-q', '1'],
        ...['-t', 'inventory/low-stock', '-m', '{}'],
      ]);
    t.equal(await publishFrom('127.0.0.2'), 0, 'a client at 127.0.0.2 publishes through nginx');
    t.not(await publishFrom('127.0.0.2'), 0, 'its second connection is past its burst');
    t.match(
      logs.lines.filter((line) => line.msg === 'mqtt connection rate exceeded'),
      [{ address: '127.0.0.2' }],
      'logged with its own address, not nginx’s',
    );
    t.equal(
      await publishFrom('127.0.0.3'),
      0,
      'a client at 127.0.0.3, through the same nginx, is not held to the other’s limit',
    );
  },
);
