import { signIdentity } from '@mercado/common/identity';
import { measureExpressTrivial } from './ceilings.js';
import type { ReportSection } from './report.js';
import { connections, measureMax, printTable, type BenchSystem, type TableRow } from './system.js';

/**
 * The same requests against the users service directly, behind a bare node:http proxy, and
 * through the gateway: what the gateway's authentication, policy, limits and proxying cost; beside
 * them the Express trivial upstream measured first, the report's ceiling for every one.
 */
export async function benchGateway(system: BenchSystem): Promise<ReportSection[]> {
  const ceiling = await measureExpressTrivial();
  const session = await fetch(`${system.gatewayUrl}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: 'load@example.com',
      password: 'a long measuring passphrase',
      name: 'Load',
    }),
  }).then(async (response) => {
    const body = (await response.json()) as { accessToken: string; user: { id: string } };
    if (!response.ok) throw new Error(`register: ${response.status} ${JSON.stringify(body)}`);
    return body;
  });
  const bearer = () => ({ authorization: `Bearer ${session.accessToken}` });
  // no-cache: the gateway proxies every request (its micro-cache would answer the public JWKS).
  const fresh = () => ({ 'cache-control': 'no-cache' });
  // The bare proxy passes headers through untouched, so it gets the signed identity the gateway
  // would add, rather than a token it could not verify.
  const signed = () =>
    signIdentity(
      { userId: session.user.id, roles: ['customer'], ip: '127.0.0.1' },
      system.internalSecret,
    );
  const routes = [
    {
      path: 'GET /api/auth/jwks.json',
      url: '/api/auth/jwks.json',
      direct: () => ({}),
      gateway: fresh,
    },
    { path: 'GET /api/users/me', url: '/api/users/me', direct: signed, gateway: bearer },
  ];
  const rows: TableRow[] = [{ ...ceiling, label: 'max', group: 'ceiling: Express trivial' }];
  for (const route of routes) {
    const direct = await measureMax('direct', `${system.usersUrl}${route.url}`, route.direct);
    const bare = await measureMax(
      'bare node:http proxy',
      `${system.bareUrl}${route.url}`,
      route.direct,
    );
    const gateway = await measureMax('gateway', `${system.gatewayUrl}${route.url}`, route.gateway);
    rows.push(
      { ...direct, group: route.path, of: direct.rps },
      { ...bare, group: route.path, of: direct.rps },
      { ...gateway, group: route.path, of: direct.rps },
    );
  }
  printTable('Gateway benchmark (vs ref = share of calling the service directly)', rows);
  return [
    {
      group: 'Gateway',
      label:
        'The same requests to the users service directly, behind a bare node:http proxy (the ' +
        'ceiling of any Node proxy here) and through the gateway; autocannon, as many as ' +
        `${connections} connections keep in flight.`,
      ceiling,
      figures: rows.slice(1).map((row) => ({ ...row, label: `${row.group}: ${row.label}` })),
    },
  ];
}
