import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * helmet's headers for a JSON API: its defaults, with a Content-Security-Policy that allows
 * nothing to load and nothing to frame the responses.
 */
export const apiHelmetOptions: Readonly<HelmetOptions> = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  },
};

/**
 * Asks helmet once, at startup, which headers it sets, and returns a middleware that sets exactly
 * those. With static options (no per-request nonce) helmet's answer never changes, and on the
 * gateway's hot path this saves its chain of a dozen middleware calls per request.
 */
export function securityHeaders(
  options: Readonly<HelmetOptions> = apiHelmetOptions,
): RequestHandler {
  const headers: Array<[string, string]> = [];
  const recorder = {
    setHeader(name: string, value: unknown) {
      headers.push([name, String(value)]);
    },
    removeHeader() {},
  };
  let completed = false;
  helmet(options)(
    {} as Request,
    recorder as unknown as Response,
    function recorded(error?: unknown) {
      if (error) throw error;
      completed = true;
    },
  );
  if (!completed)
    throw new Error('helmet did not finish synchronously; its options need a request');

  return function setSecurityHeaders(_req: Request, res: Response, next: NextFunction): void {
    for (let i = 0; i < headers.length; i++) res.setHeader(headers[i]![0], headers[i]![1]);
    next();
  };
}
