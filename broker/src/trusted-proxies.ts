import type { IncomingMessage } from 'node:http';
import net from 'node:net';

/**
 * MQTT_PROXY_TRUSTED: the load balancers whose word on a client's address the broker takes — a
 * PROXY header on MQTT_PROXY_PORT, `X-Forwarded-For` on the WebSocket upgrade. Each entry is an
 * address or a CIDR block (`127.0.0.1`, `10.0.0.0/8`, `fd00::/8`); an IPv4 entry also matches
 * the IPv4-mapped IPv6 form a dual-stack socket reports (`::ffff:10.1.2.3`).
 */
export interface TrustedProxies {
  trusts(address: string | undefined): boolean;
}

/** An entry's problem, or undefined when it is an address or a CIDR block. */
export function trustedEntryProblem(entry: string): string | undefined {
  const [address = '', prefix, ...extra] = entry.split('/');
  const family = net.isIP(address);
  if (family === 0 || extra.length > 0) return `not an address or CIDR block: ${entry}`;
  if (prefix === undefined) return undefined;
  const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  return bits <= (family === 4 ? 32 : 128) ? undefined : `prefix out of range: ${entry}`;
}

export function trustedProxies(entries: readonly string[]): TrustedProxies {
  const list = new net.BlockList();
  for (const entry of entries) {
    const problem = trustedEntryProblem(entry);
    if (problem) throw new Error(`MQTT_PROXY_TRUSTED: ${problem}`);
    const [address, prefix] = entry.split('/') as [string, string | undefined];
    const family = net.isIP(address) === 4 ? 'ipv4' : 'ipv6';
    const bits = prefix === undefined ? (family === 'ipv4' ? 32 : 128) : Number(prefix);
    list.addSubnet(address, bits, family);
  }
  return {
    trusts(address) {
      const family = address === undefined ? 0 : net.isIP(address);
      return family !== 0 && list.check(address!, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/**
 * The client's address behind the WebSocket upgrade: the peer's own, unless the peer is a trusted
 * proxy, in which case `X-Forwarded-For` is read from its right end (the hop the trusted proxy
 * added) leftwards, past every trusted hop, to the first untrusted one — what a client writes
 * into the header itself sits further left and is never reached while an untrusted hop stands
 * between. An entry that is not an address stops the walk at the last good hop.
 */
export function forwardedClient(request: IncomingMessage, trusted: TrustedProxies): string {
  let client = request.socket.remoteAddress ?? 'unknown';
  const header = request.headers['x-forwarded-for'];
  if (header === undefined || !trusted.trusts(client)) return client;
  const hops = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((hop) => hop.trim());
  while (trusted.trusts(client) && hops.length > 0) {
    const next = hops.pop()!;
    if (net.isIP(next) === 0) break;
    client = next;
  }
  return client;
}
