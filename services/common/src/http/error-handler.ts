import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { AppError, isAppError } from '../errors/app-error.js';
import { fromPostgresError } from '../errors/postgres.js';
import { problemContentType, toProblem } from '../errors/problem.js';
import type { Logger } from '../log/logger.js';

/** Writes one problem+json response; the only place error bodies are made. */
export function sendProblem(req: Request, res: Response, error: AppError): void {
  if (error.headers) {
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  }
  res
    .status(error.status)
    .type(problemContentType)
    .send(JSON.stringify(toProblem(error, req.originalUrl.split('?')[0], req.id)));
}

/** Errors raised by body-parser carry a `type`; map the ones a client can cause. */
function fromBodyParserError(error: unknown): AppError | undefined {
  if (typeof error !== 'object' || error === null || !('type' in error)) return undefined;
  switch ((error as { type: unknown }).type) {
    case 'entity.parse.failed':
      return new AppError('invalid_json');
    case 'entity.too.large':
      return new AppError('payload_too_large');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AppError('unsupported_media_type');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new AppError('validation_failed', { detail: 'The request body could not be read' });
    default:
      return undefined;
  }
}

/**
 * Express decodes each path parameter with decodeURIComponent and passes on its URIError (with
 * `status` 400) when a segment is not percent-encoded UTF-8: `%zz`, or an overlong `%C0%AF`.
 */
function fromPathDecodingError(error: unknown): AppError | undefined {
  if (!(error instanceof URIError)) return undefined;
  return new AppError('invalid_path', { cause: error });
}

export function notFoundHandler(): RequestHandler {
  return function notFound(_req, _res, next) {
    next(new AppError('not_found'));
  };
}

/**
 * The error middleware: catalogued errors become their problem, database errors are translated by
 * SQLSTATE, anything else is logged in full and answered as a generic 500 (no stack, no message).
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return function handleError(error: unknown, req, res, next) {
    if (res.headersSent) {
      next(error);
      return;
    }
    const known = isAppError(error)
      ? error
      : (fromBodyParserError(error) ?? fromPathDecodingError(error) ?? fromPostgresError(error));
    if (known) {
      if (known.status >= 500) log.error({ err: error, code: known.code }, 'request failed');
      sendProblem(req, res, known);
      return;
    }
    log.error({ err: error }, 'unhandled error');
    sendProblem(req, res, new AppError('internal'));
  };
}
