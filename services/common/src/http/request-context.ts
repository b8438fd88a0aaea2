import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { runWithContext } from '../log/context.js';

const acceptableRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
  }
}

/**
 * Takes the caller's `X-Request-Id` when it is a sane token (the gateway's, or a client's), makes
 * one otherwise, echoes it on the response and runs the rest of the request inside its context.
 */
export function requestContext(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.headers['x-request-id'];
  const id =
    typeof incoming === 'string' && acceptableRequestId.test(incoming) ? incoming : randomUUID();
  req.id = id;
  res.setHeader('X-Request-Id', id);
  runWithContext({ requestId: id }, next);
}
