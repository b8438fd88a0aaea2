import { createReadStream, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Serves a built static site (the storefront's `frontend/dist/site`) as a production static file
 * server would:
 *
 * - **Pages** by clean paths: `/` is `index.html`, `/cart` is `cart.html`, `/admin/users` is
 *   `admin/users.html`. HTML is `Cache-Control: no-cache` (revalidated on every visit, so a new
 *   release is seen at once) and carries the site's Content-Security-Policy: scripts, styles,
 *   images, fonts and connections from the shop's own origin only (WebSocket included), no
 *   framing, no inline script.
 * - **Hashed assets** (`/assets/name-HASH.ext`, the bundler's names) are immutable: cached for a
 *   year. Other files (images) for an hour.
 * - **Precompressed** `.br` and `.gz` files written beside each asset by the build are sent when
 *   the browser takes them (`Vary: Accept-Encoding`): no compression work per request.
 * - The file list is read at start (and again when a path misses, at most once a second): a request
 *   can only ever name a file that was there (no path traversal: a path is looked up, never
 *   joined), and nothing is stat'ed per request.
 *
 * Anything else is the next handler's (the gateway's API, a 404).
 */
export interface StaticSiteOptions {
  /** The built site's folder. */
  dir: string;
  /** Extra Content-Security-Policy `connect-src` sources (the site's own origin is always in). */
  connectSources?: readonly string[];
  /** The clock (epoch ms) that spaces re-reads of the folder. */
  now?: () => number;
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

interface SiteFile {
  file: string;
  type: string;
  size: number;
  cacheControl: string;
  /** Precompressed variants: encoding → file and size. */
  encoded: Array<{ encoding: 'br' | 'gzip'; file: string; size: number }>;
}

const year = 31_536_000;

function walk(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? walk(path.join(dir, entry.name), `${prefix}${entry.name}/`)
      : [`${prefix}${entry.name}`],
  );
}

/** The site's Content-Security-Policy for its pages. */
export function siteContentSecurityPolicy(connectSources: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self' ${connectSources.join(' ')}`.trim(),
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The site's files by the path they are served at (read once; see serveStaticSite). */
function scan(dir: string): Map<string, SiteFile> {
  const names = walk(dir);
  const present = new Set(names);
  const files = new Map<string, SiteFile>();
  for (const name of names) {
    if (name.endsWith('.gz') || name.endsWith('.br')) continue;
    const extension = path.extname(name);
    const type = types[extension];
    if (!type) continue;
    const full = path.join(dir, name);
    const encoded: SiteFile['encoded'] = [];
    for (const [suffix, encoding] of [
      ['.br', 'br'],
      ['.gz', 'gzip'],
    ] as const) {
      if (present.has(name + suffix)) {
        const file = full + suffix;
        encoded.push({ encoding, file, size: statSync(file).size });
      }
    }
    const cacheControl =
      extension === '.html'
        ? 'no-cache'
        : name.startsWith('assets/')
          ? `public, max-age=${year}, immutable`
          : 'public, max-age=3600';
    const entry = { file: full, type, size: statSync(full).size, cacheControl, encoded };
    if (extension === '.html') {
      // A page by its clean path; index.html as its folder's.
      const page = name.slice(0, -'.html'.length);
      const served =
        page === 'index' ? '/' : page.endsWith('/index') ? `/${page.slice(0, -6)}` : `/${page}`;
      files.set(served, entry);
    } else {
      files.set(`/${name}`, entry);
    }
  }
  return files;
}

export function serveStaticSite({
  dir,
  connectSources = [],
  now = Date.now,
}: StaticSiteOptions): RequestHandler {
  let files = scan(dir);
  let scannedAt = now();
  /**
   * A path it does not know: the site may have been rebuilt under new hashed names while this
   * ran (`node frontend/build.mjs` beside `npm start`), so the folder is read again, at most once
   * a second however many requests miss.
   */
  function lookUp(requested: string): SiteFile | undefined {
    const known = files.get(requested);
    if (known || now() - scannedAt < 1_000) return known;
    scannedAt = now();
    try {
      files = scan(dir);
    } catch {
      // Mid-rebuild: the old list serves until the next look.
    }
    return files.get(requested);
  }
  const policy = siteContentSecurityPolicy(connectSources);

  return function staticSite(req: Request, res: Response, next: NextFunction): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      next();
      return;
    }
    const site = lookUp(req.path);
    if (!site) {
      next();
      return;
    }
    const accepted = String(req.headers['accept-encoding'] ?? '');
    const variant = site.encoded.find((candidate) =>
      new RegExp(`(^|[,\\s])${candidate.encoding}(;|,|\\s|$)`).test(accepted),
    );
    res.setHeader('Content-Type', site.type);
    res.setHeader('Cache-Control', site.cacheControl);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (site.encoded.length > 0) res.setHeader('Vary', 'Accept-Encoding');
    if (site.type.startsWith('text/html')) {
      res.setHeader('Content-Security-Policy', policy);
      res.setHeader('Referrer-Policy', 'same-origin');
    }
    if (variant) res.setHeader('Content-Encoding', variant.encoding);
    res.setHeader('Content-Length', String(variant ? variant.size : site.size));
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(variant ? variant.file : site.file);
    stream.on('error', next);
    stream.pipe(res);
  };
}
