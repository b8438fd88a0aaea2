import { subscribe } from 'node:diagnostics_channel';
import type net from 'node:net';

/**
 * The benchmarks send load only to this machine: every URL one opens is asserted to be on
 * 127.0.0.1 before it is opened (`loopback`), and `guardSockets` fails the run should any socket of
 * this process connect anywhere else all the same (a helper that built a URL of its own).
 * Load generators in child processes are handed URLs that passed `loopback`.
 */

const origins = new Set<string>();

/** The URL itself, once it is known to point at 127.0.0.1; throws for any other host. */
export function loopback(url: string | URL): string {
  const parsed = new URL(url);
  // Scheme, host and port only: a database URL's password never reaches a message.
  const origin = `${parsed.protocol}//${parsed.host}`;
  if (parsed.hostname !== '127.0.0.1') {
    throw new Error(`bench: refusing ${origin}: benchmarks send traffic to 127.0.0.1 only`);
  }
  origins.add(origin);
  return String(url);
}

/** How many distinct origins (scheme, 127.0.0.1, port) the run has opened so far. */
export function originsOpened(): number {
  return origins.size;
}

const loopbackAddress = /^(?:127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/**
 * Watches every TCP client socket this process creates (Node's `net.client.socket` diagnostics
 * channel) and destroys, with an error that ends the run, any that resolves or connects to an
 * address outside the loopback range. Unix sockets (Postgres's local one) have no address.
 */
export function guardSockets(onStray: (error: Error) => void): void {
  subscribe('net.client.socket', (message) => {
    const { socket } = message as { socket: net.Socket };
    const check = (address: string | undefined) => {
      if (address === undefined || address === '' || loopbackAddress.test(address)) return;
      const error = new Error(`bench: a socket reached ${address}: traffic to 127.0.0.1 only`);
      socket.destroy(error);
      onStray(error);
    };
    socket.once('lookup', (_error: Error | null, address: string) => check(address));
    socket.once('connect', () => check(socket.remoteAddress));
  });
}
