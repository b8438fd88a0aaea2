import net from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * The PROXY protocol (HAProxy's specification, versions 1 and 2): the header a load balancer
 * writes first on each connection it opens to the broker, naming the client it accepted. nginx's
 * `proxy_protocol on;` in a stream server sends version 1, a text line; version 2 (binary) is
 * read too, as other balancers send it. Strict on purpose: the header decides which address the
 * broker's limits and logs hold a client to.
 *
 * - v1: `PROXY TCP4|TCP6 <source> <destination> <source port> <destination port>\r\n`, at most
 *   107 bytes (spec §2.1), single spaces, addresses of the stated family, ports in decimal
 *   without leading zeros; `PROXY UNKNOWN…\r\n` says the balancer does not know (its own address
 *   then stands).
 * - v2: the 12-byte signature, version 2, command LOCAL (a balancer's own health check: its own
 *   address stands) or PROXY over TCP/IPv4 or TCP/IPv6 (spec §2.2); at most 536 bytes in all,
 *   the smallest TCP segment every path carries, in which the spec asks senders to fit it.
 */
export type ProxyHeader =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  /** `source` absent: v1 UNKNOWN or v2 LOCAL, the connection's own address stands. */
  | { kind: 'header'; length: number; source?: { address: string; port: number } };

const v1Prefix = Buffer.from('PROXY ');
const v1MaxBytes = 107;
const v2Signature = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const v2MaxBytes = 536;
const port = /^(0|[1-9]\d{0,4})$/;

/** Whether `buffer` (shorter than `signature`) could still become it. */
function startsLike(buffer: Buffer, signature: Buffer): boolean {
  return signature.subarray(0, buffer.length).equals(buffer.subarray(0, signature.length));
}

function parseV1(buffer: Buffer): ProxyHeader {
  const end = buffer.subarray(0, v1MaxBytes).indexOf('\r\n');
  if (end === -1) {
    return buffer.length >= v1MaxBytes
      ? { kind: 'invalid', reason: 'PROXY v1 line longer than 107 bytes' }
      : { kind: 'incomplete' };
  }
  const line = buffer.subarray(0, end).toString('latin1');
  const length = end + 2;
  const fields = line.split(' ');
  if (fields[1] === 'UNKNOWN') return { kind: 'header', length };
  if (fields.length !== 6) return { kind: 'invalid', reason: 'PROXY v1 line malformed' };
  const [, family, source, destination, sourcePort, destinationPort] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const version = family === 'TCP4' ? 4 : family === 'TCP6' ? 6 : 0;
  if (
    version === 0 ||
    net.isIP(source) !== version ||
    net.isIP(destination) !== version ||
    !port.test(sourcePort) ||
    !port.test(destinationPort) ||
    Number(sourcePort) > 65_535 ||
    Number(destinationPort) > 65_535
  ) {
    return { kind: 'invalid', reason: 'PROXY v1 line malformed' };
  }
  return { kind: 'header', length, source: { address: source, port: Number(sourcePort) } };
}

function ipv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Node's own form (compressed, lower case), as a socket's remoteAddress reads.
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

function parseV2(buffer: Buffer): ProxyHeader {
  if (buffer.length < 16) return { kind: 'incomplete' };
  const versionCommand = buffer[12]!;
  const familyTransport = buffer[13]!;
  const length = 16 + buffer.readUInt16BE(14);
  if (versionCommand >> 4 !== 2) return { kind: 'invalid', reason: 'PROXY v2 version not 2' };
  if (length > v2MaxBytes) return { kind: 'invalid', reason: 'PROXY v2 header over 536 bytes' };
  if (buffer.length < length) return { kind: 'incomplete' };
  const command = versionCommand & 0x0f;
  if (command === 0x0) return { kind: 'header', length };
  if (command !== 0x1) return { kind: 'invalid', reason: 'PROXY v2 command unknown' };
  // TCP over IPv4: 4 + 4 address bytes, 2 + 2 port bytes; TCP over IPv6: 16 + 16, 2 + 2.
  if (familyTransport === 0x11 && length >= 16 + 12) {
    const address = [...buffer.subarray(16, 20)].join('.');
    return { kind: 'header', length, source: { address, port: buffer.readUInt16BE(24) } };
  }
  if (familyTransport === 0x21 && length >= 16 + 36) {
    const address = ipv6(buffer.subarray(16, 32));
    return { kind: 'header', length, source: { address, port: buffer.readUInt16BE(48) } };
  }
  return { kind: 'invalid', reason: 'PROXY v2 not TCP over IPv4 or IPv6' };
}

/** Reads a PROXY header at the start of `buffer`: complete, not yet, or not one. */
export function parseProxyHeader(buffer: Buffer): ProxyHeader {
  if (buffer.length < v1Prefix.length && startsLike(buffer, v1Prefix)) {
    return { kind: 'incomplete' };
  }
  if (buffer.subarray(0, v1Prefix.length).equals(v1Prefix)) return parseV1(buffer);
  if (buffer.length < v2Signature.length && startsLike(buffer, v2Signature)) {
    return { kind: 'incomplete' };
  }
  if (buffer.subarray(0, v2Signature.length).equals(v2Signature)) return parseV2(buffer);
  return { kind: 'invalid', reason: 'no PROXY header' };
}

export class ProxyHeaderError extends Error {
  override name = 'ProxyHeaderError';
}

/**
 * Reads the PROXY header off the start of a connection, before anything else reads it, and
 * leaves the bytes after it (the client's CONNECT) for the next reader. Rejects with a
 * ProxyHeaderError for a connection that sends no valid header within `timeoutMs`, more bytes
 * than a header may have without one, or ends first. Never holds more than one header's bytes
 * plus one read.
 */
export function readProxyHeader(
  stream: Duplex,
  timeoutMs: number,
): Promise<Extract<ProxyHeader, { kind: 'header' }>> {
  return new Promise(function readHeader(resolve, reject) {
    let buffered: Buffer = Buffer.alloc(0);
    const timer = setTimeout(
      () => finish(new ProxyHeaderError(`no PROXY header within ${timeoutMs} ms`)),
      timeoutMs,
    );
    function onEnd() {
      finish(new ProxyHeaderError('connection ended before its PROXY header'));
    }
    function onError(error: Error) {
      finish(new ProxyHeaderError(`connection failed before its PROXY header: ${error.message}`));
    }
    function finish(error: Error | undefined, header?: Extract<ProxyHeader, { kind: 'header' }>) {
      clearTimeout(timer);
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      if (error) reject(error);
      else resolve(header!);
    }
    function onReadable() {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        const header = parseProxyHeader(buffered);
        if (header.kind === 'incomplete') continue;
        if (header.kind === 'invalid') {
          finish(new ProxyHeaderError(header.reason));
          return;
        }
        const rest = buffered.subarray(header.length);
        if (rest.length > 0) stream.unshift(rest);
        finish(undefined, header);
        return;
      }
    }
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
  });
}
