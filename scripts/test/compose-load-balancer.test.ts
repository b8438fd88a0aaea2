import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import YAML from 'yaml';
import { composeNginxConfigs, loadBalancerContainer } from '../src/compose-load-balancer.js';
import { repoRoot } from '../src/local-state.js';
import { nginxStreamModule } from '../src/system-packages.js';
import { composeFile } from './compose-helpers.js';

/**
 * The load balancer of docker-compose.yml: its committed configuration (load-balancer/nginx.conf
 * and nginx-tls.conf) is what `npm run lb:config` writes; `nginx -t` accepts exactly those files
 * with the compose service names resolved as Docker's DNS resolves them; a real nginx running
 * the committed file answers its own health path, keeps the replicas' /metrics inside and routes
 * the rest by path; the image's entrypoint turns TLS on exactly when a certificate and key are
 * mounted.
 *
 * Each check runs in private namespaces (`unshare`, as root): a mount namespace whose /etc/hosts
 * maps the compose names (nginx resolves upstream names when it loads its configuration), a
 * tmpfs over /run for the container's /run/nginx and over /etc/nginx for its certificate, and, to
 * run nginx on the container's own ports, a network namespace of its own. Nothing of the machine
 * is changed, and whatever runs in the namespace ends with it.
 */

const lb = loadBalancerContainer;
const files = ['nginx.conf', 'nginx-tls.conf'] as const;
/** Debian's nginx has its stream module as a dynamic one; the official image has it built in. */
const loadStream = `load_module ${nginxStreamModule};`;

const unshareWorks =
  spawnSync('unshare', ['--mount', '--net', '--pid', '--fork', 'true'], { stdio: 'ignore' })
    .status === 0;

/**
 * Runs a shell script in fresh mount, network and PID namespaces; its output and exit code. The
 * output goes to a file, as a container's goes to a pipe: nginx opens /dev/stdout (its access
 * log), which a socket, as Node's child pipes are, refuses.
 */
async function inNamespaces(dir: string, script: string): Promise<{ code: number; out: string }> {
  if (!unshareWorks) {
    throw new Error(
      'unshare --mount --net --pid could not run: these checks need root (or CAP_SYS_ADMIN) and util-linux',
    );
  }
  const out = path.join(dir, 'out');
  const result = spawnSync(
    'unshare',
    ['--mount', '--net', '--pid', '--fork', 'sh', '-euc', `exec >${out} 2>&1\n${script}`],
    { stdio: 'ignore' },
  );
  return { code: result.status ?? 1, out: await readFile(out, 'utf8') };
}

/** The compose file's service names, as Docker's DNS answers them. */
const serviceNames = Object.keys(
  (YAML.parse(readFileSync(composeFile, 'utf8')) as { services: object }).services,
);

/**
 * A folder with the hosts file, a self-signed certificate (tls.crt, tls.key), and the shell lines that put them in
 * place inside the namespaces. The names map to ::1: nginx listens on IPv4 only, so an upstream
 * that nothing serves refuses at once rather than reaching nginx's own port.
 */
async function stage(t: { teardown(fn: () => unknown): void }, names = serviceNames) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mercado-lb-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'hosts'), `127.0.0.1 localhost\n::1 ${names.join(' ')}\n`);
  const openssl = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
    ].concat(['-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt')]),
    { encoding: 'utf8' },
  );
  if (openssl.status !== 0) throw new Error(`openssl: ${openssl.stderr}`);
  const setup = [
    `mount --bind ${dir}/hosts /etc/hosts`,
    `mount -t tmpfs tmpfs /run && mkdir ${lb.runDir}`,
    `mkdir -p /etc/nginx && mount -t tmpfs tmpfs /etc/nginx && mkdir ${lb.tlsDir}`,
  ].join('\n');
  return { dir, setup };
}

t.test('the committed configuration is what `npm run lb:config` writes', async (t) => {
  const rendered = composeNginxConfigs();
  for (const file of files) {
    t.equal(
      readFileSync(path.join(repoRoot, 'load-balancer', file), 'utf8'),
      rendered[file],
      `load-balancer/${file} is up to date (npm run lb:config)`,
    );
  }
});

t.test('nginx -t accepts exactly the committed files with the compose names', async (t) => {
  const { dir, setup } = await stage(t);
  for (const file of files) {
    const conf = path.join(repoRoot, 'load-balancer', file);
    const result = await inNamespaces(
      dir,
      `${setup}\ncp ${dir}/tls.crt ${dir}/tls.key ${lb.tlsDir}/\nnginx -t -q -e stderr -c ${conf} -g '${loadStream}'`,
    );
    t.same(result, { code: 0, out: '' }, `nginx -t ${file}`);
  }
  // The same check fails when a name is not a compose service's: it proves the names.
  const { dir: elsewhere, setup: withoutGateway } = await stage(
    t,
    serviceNames.filter((name) => name !== 'gateway'),
  );
  const conf = path.join(repoRoot, 'load-balancer', 'nginx.conf');
  const refused = await inNamespaces(
    elsewhere,
    `${withoutGateway}\nnginx -t -q -e stderr -c ${conf} -g '${loadStream}'`,
  );
  t.not(refused.code, 0, 'a name Docker would not resolve fails the check');
  t.match(refused.out, /host not found in upstream "gateway:8080"/);
});

t.test(
  'running the committed file, nginx answers its own health, hides /metrics, routes the rest',
  async (t) => {
    const { dir, setup } = await stage(t);
    const conf = path.join(repoRoot, 'load-balancer', 'nginx.conf');
    // A stand-in frontend on the frontend's address and port (nothing serves the gateway's).
    const frontend = `require('node:http').createServer((q, s) => s.end('frontend ' + q.url)).listen(8090, '::1')`;
    const get = (pathname: string) =>
      `printf '${pathname} %s %s\\n' "$(curl -s -o ${dir}/body -w '%{http_code}' http://127.0.0.1:${lb.httpPort}${pathname})" "$(head -n 1 ${dir}/body | tr -d '\\r')"`;
    const result = await inNamespaces(
      dir,
      `${setup}
ip link set lo up
${process.execPath} -e "${frontend}" &
nginx -e stderr -c ${conf} -g 'daemon off; ${loadStream}' >/dev/null 2>&1 &
tries=0
until curl -s -o /dev/null http://[::1]:8090/ && curl -s -o /dev/null http://127.0.0.1:${lb.httpPort}${lb.healthPath}; do
  tries=$((tries + 1)); [ "$tries" -lt 3000 ] || { echo 'nothing answered' >&2; exit 1; }; sleep 0.01
done
${get(lb.healthPath)}
${get('/metrics')}
${get('/products/abc')}
${get('/api/products')}`,
    );
    t.same(result, {
      code: 0,
      out: [
        `${lb.healthPath} 200 ok`,
        '/metrics 404 <html>',
        '/products/abc 200 frontend /products/abc',
        `/api/products 502 <html>`,
        '',
      ].join('\n'),
    });
  },
);

t.test(
  'the entrypoint turns TLS on exactly when a certificate and a key are mounted',
  async (t) => {
    const { dir, setup } = await stage(t);
    // A stand-in nginx that prints what it was asked to run.
    await writeFile(path.join(dir, 'nginx'), '#!/bin/sh\necho "nginx $*"\n', { mode: 0o755 });
    const entrypoint = path.join(repoRoot, 'load-balancer', 'entrypoint.sh');
    const run = `PATH=${dir}:$PATH sh ${entrypoint} 2>&1`;
    const result = await inNamespaces(
      dir,
      `${setup}
${run}
touch ${lb.tlsDir}/tls.crt
${run}
echo certificate > ${lb.tlsDir}/tls.crt && echo key > ${lb.tlsDir}/tls.key
${run}`,
    );
    const plain = `nginx -e stderr -c /etc/nginx/mercado/nginx.conf -g daemon off;`;
    t.same(result.out.split('\n'), [
      'load-balancer: no tls.crt and tls.key in /etc/nginx/tls: HTTPS and MQTTS are off',
      plain,
      'load-balancer: no tls.crt and tls.key in /etc/nginx/tls: HTTPS and MQTTS are off',
      plain,
      'load-balancer: TLS on (HTTPS on 8443, MQTTS on 8883 in the container)',
      `nginx -e stderr -c /etc/nginx/mercado/nginx-tls.conf -g daemon off;`,
      '',
    ]);
    t.equal(result.code, 0);
  },
);
