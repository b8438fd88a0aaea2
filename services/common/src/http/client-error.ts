import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError } from '../errors/app-error.js';
import { problemContentType, toProblem } from '../errors/problem.js';

/** How long a refused connection stays half open for its client to read the answer. */
const lingerMs = 5_000;

const answered = new WeakSet<Duplex>();

function refusalOf(error: Error & { code?: string }): AppError {
  switch (error.code) {
    // Node's HTTP parser counts the request line and the headers together (`maxHeaderSize`).
    case 'HPE_HEADER_OVERFLOW':
      return new AppError('headers_too_large');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new AppError('payload_too_large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AppError('request_timeout');
    default:
      return new AppError('bad_request');
  }
}

/**
 * The server's `clientError` listener: a request Node's parser refused (a request line or
 * headers over `maxHeaderSize`, bytes that are not HTTP, a request too slow to arrive) gets a
 * problem+json answer like any other refusal, where Node would send a bare status line. There is
 * no request object yet, so the answer is written to the socket as it is. It is sent, then the
 * connection half-closes: the client reads it before the connection goes, rather than losing it to
 * a reset over its unread input; the parser refuses what else arrives, and a client that never
 * closes is cut off after a few seconds.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (answered.has(socket)) return;
  answered.add(socket);
  // As Node's own default: never write into a response already under way on this connection.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const refusal = refusalOf(error);
  const body = JSON.stringify(toProblem(refusal));
  socket.end(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\n` +
      `Content-Type: ${problemContentType}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
  const linger = setTimeout(function cutOff() {
    socket.destroy();
  }, lingerMs);
  linger.unref();
  socket.once('close', function stopLingering() {
    clearTimeout(linger);
  });
}
