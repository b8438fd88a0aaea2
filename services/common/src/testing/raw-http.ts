import net from 'node:net';
import type { CallResult } from './testing.js';

/**
 * Sends `bytes` as they are on a fresh connection and reads what comes back until the server
 * closes it: for requests fetch will not send (an oversized request line, bytes that are not HTTP).
 */
export function sendRawHttp(baseUrl: string, bytes: string | Buffer): Promise<CallResult> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('end', function answered() {
      socket.end();
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const headers = new Headers();
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      const raw = rest.join('\r\n\r\n');
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        // not JSON: keep the text
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
    socket.write(bytes);
  });
}

/** Requests Node's HTTP parser refuses before any route sees them, and the refusal each must get. */
export function unparsableRequests(
  path = '/',
): Array<{ name: string; bytes: string; status: number; code: string }> {
  const headers = 'Host: mercado.test\r\n';
  return [
    {
      name: 'a request line over the limit',
      bytes: `GET ${path}?${'q'.repeat(20_000)} HTTP/1.1\r\n${headers}\r\n`,
      status: 431,
      code: 'headers_too_large',
    },
    {
      name: 'a header over the limit',
      bytes: `GET ${path} HTTP/1.1\r\n${headers}X-Long: ${'h'.repeat(20_000)}\r\n\r\n`,
      status: 431,
      code: 'headers_too_large',
    },
    {
      name: 'headers over the limit together',
      bytes: `GET ${path} HTTP/1.1\r\n${headers}${Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'v'.repeat(50)}\r\n`).join('')}\r\n`,
      status: 431,
      code: 'headers_too_large',
    },
    {
      name: 'bytes that are not HTTP',
      bytes: `HELLO ${path}\x00\r\n\r\n`,
      status: 400,
      code: 'bad_request',
    },
  ];
}
