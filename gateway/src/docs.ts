import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type Request, type RequestHandler, type Response } from 'express';
import { errorsDescription, problemSchema } from '@mercado/common/http';
import type { Logger } from '@mercado/common/log';
import { gatewayErrors } from './errors.js';
import { serviceNames, type ServiceName } from './policy.js';
import type { UpstreamPool } from './upstreams.js';

type PathItem = Record<string, unknown>;

interface ServiceDocument {
  paths?: Record<string, PathItem>;
  components?: {
    schemas?: Record<string, unknown> & {
      Problem?: { properties?: { code?: { enum?: unknown } } };
    };
    securitySchemes?: Record<string, unknown>;
  };
}

/** The gateway's own routes, described by hand (they have no request bodies to validate). */
const gatewayPaths: Record<string, PathItem> = {
  '/api/health': {
    get: {
      operationId: 'getApiHealth',
      summary: 'Readiness of the gateway and of every service behind it',
      tags: ['gateway'],
      'x-mercado-access': 'public',
      responses: {
        200: { description: 'Everything configured is ready' },
        503: { description: 'Something configured is not ready (the body says what)' },
      },
    },
  },
  '/api/openapi.json': {
    get: {
      operationId: 'getApiOpenapiJson',
      summary: 'This document',
      tags: ['gateway'],
      'x-mercado-access': 'public',
      responses: { 200: { description: 'The OpenAPI 3.1 document of the public API' } },
    },
  },
  '/api/payments/keys.json': {
    get: {
      operationId: 'getApiPaymentsKeysJson',
      summary: "Payments' public keys, to encrypt a card in the browser (a JWK set)",
      description:
        'Encrypt `{ number, expMonth, expYear, cvc, holder? }` as a compact JWE for the first key ' +
        '(its `alg`, `enc: A256GCM`, its `kid`) and send it as `encryptedCard`.',
      tags: ['payments'],
      'x-mercado-access': 'public',
      responses: {
        200: { description: 'The keys payments announced' },
        503: { description: 'Payments has not announced its keys yet' },
      },
    },
  },
  '/api/orders/{id}/payments': {
    post: {
      operationId: 'postApiOrdersIdPayments',
      summary: 'Pay an order by card (over MQTT to payments; the amount is the order’s)',
      tags: ['payments'],
      'x-mercado-access': 'authenticated',
      security: [{ bearerAuth: [] }],
      parameters: [
        { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
        {
          name: 'Idempotency-Key',
          in: 'header',
          required: true,
          schema: { type: 'string', minLength: 1, maxLength: 255 },
        },
      ],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              description:
                'Exactly one of card and encryptedCard; amountMinor, amount and currency are ignored.',
              properties: {
                card: {
                  type: 'object',
                  required: ['number', 'expMonth', 'expYear', 'cvc'],
                  additionalProperties: false,
                  properties: {
                    number: { type: 'string', pattern: '^\\d{12,19}$' },
                    expMonth: { type: 'integer', minimum: 1, maximum: 12 },
                    expYear: { type: 'integer', minimum: 2000, maximum: 2100 },
                    cvc: { type: 'string', pattern: '^\\d{3,4}$' },
                    holder: { type: 'string', maxLength: 100 },
                  },
                },
                encryptedCard: { type: 'string', maxLength: 4096, description: 'A compact JWE' },
              },
            },
          },
        },
      },
      responses: {
        200: { description: 'Approved' },
        202: { description: 'Sent; no result yet (see Location)' },
        402: { description: 'Declined (`payment_declined`, with the reason)' },
        404: { description: 'No such order of yours' },
        409: { description: 'Not attempted: paid, in progress, or no longer payable' },
        503: { description: 'Payments or the broker is unavailable' },
      },
    },
  },
  '/api/docs': {
    get: {
      operationId: 'getApiDocs',
      summary: 'A browsable view of this document',
      tags: ['gateway'],
      'x-mercado-access': 'public',
      responses: { 200: { description: 'An HTML page' } },
    },
  },
};

export interface DocsOptions {
  pools: ReadonlyMap<ServiceName, UpstreamPool>;
  log: Logger;
  /** How long a merged document is reused before the services are asked again. */
  cacheMs?: number;
  timeoutMs?: number;
}

export interface ApiDocs {
  /** GET /api/openapi.json */
  document: (req: Request, res: Response) => Promise<void>;
  /** GET /api/docs */
  page: (req: Request, res: Response) => Promise<void>;
  /** The UI's static files (swagger-ui-dist from npm; no CDN), mounted at /api/docs/assets. */
  assets: RequestHandler;
  /** Fetches and merges now; tests and the consistency check use it directly. */
  build(): Promise<{ document: Record<string, unknown>; missing: ServiceName[] }>;
}

const require = createRequire(import.meta.url);
const swaggerUiDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));

// The page's script and styles come from this origin only; swagger-ui sets inline styles.
const pageSecurityPolicy =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Mercado API</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/docs/assets/init.js"></script>
</body>
</html>
`;

const initScript = `window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;

/**
 * The API's OpenAPI 3.1 document, merged from what each service publishes at `/openapi.json`
 * (each generates its own from the zod schemas that validate its requests), plus the gateway's own
 * routes, and a browsable page over it. A service that cannot be reached is left out and named in
 * `x-mercado-missing`; such a document is not cached.
 */
export function createApiDocs({
  pools,
  log,
  cacheMs = 60_000,
  timeoutMs = 2_000,
}: DocsOptions): ApiDocs {
  let cached: { at: number; body: string } | undefined;

  async function fetchService(name: ServiceName, pool: UpstreamPool): Promise<ServiceDocument> {
    let failure: unknown;
    for (const upstream of pool.upstreams) {
      try {
        const response = await fetch(`${upstream.origin}/openapi.json`, {
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (response.ok) return (await response.json()) as ServiceDocument;
        failure = new Error(`status ${response.status}`);
      } catch (error) {
        failure = error;
      }
    }
    throw Object.assign(new Error(`${name}: no /openapi.json`), { cause: failure });
  }

  async function build() {
    const paths: Record<string, PathItem> = {};
    const schemas: Record<string, unknown> = {};
    const securitySchemes: Record<string, unknown> = {};
    const missing: ServiceName[] = [];
    const documents = await Promise.all(
      serviceNames.map(async (name) => {
        const pool = pools.get(name);
        if (!pool) return undefined;
        try {
          return await fetchService(name, pool);
        } catch (error) {
          log.warn({ service: name, err: error }, 'service API document unavailable');
          missing.push(name);
          return undefined;
        }
      }),
    );
    // Each service's Problem lists its own codes; the API's lists them all, the gateway's too.
    const codes = new Set<string>(Object.keys(gatewayErrors.entries));
    for (const document of documents) {
      if (!document) continue;
      for (const [route, item] of Object.entries(document.paths ?? {})) {
        paths[route] = { ...paths[route], ...item };
      }
      Object.assign(schemas, document.components?.schemas);
      Object.assign(securitySchemes, document.components?.securitySchemes);
      const serviceCodes = document.components?.schemas?.Problem?.properties?.code?.enum;
      if (Array.isArray(serviceCodes)) for (const code of serviceCodes) codes.add(String(code));
    }
    schemas.Problem = problemSchema([...codes]);
    Object.assign(paths, gatewayPaths);
    const document = {
      openapi: '3.1.0',
      info: {
        title: 'Mercado API',
        version: '1',
        description: `The public HTTP API, through the gateway. Money is integer minor units with an ISO currency. ${errorsDescription}`,
      },
      servers: [{ url: '/' }],
      paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
      components: { schemas, securitySchemes },
      ...(missing.length > 0 ? { 'x-mercado-missing': missing } : {}),
    };
    return { document, missing };
  }

  return {
    build,
    async document(_req, res) {
      if (!cached || Date.now() - cached.at > cacheMs) {
        const { document, missing } = await build();
        const body = JSON.stringify(document);
        if (missing.length > 0) {
          res.type('application/json').setHeader('Cache-Control', 'no-store').send(body);
          return;
        }
        cached = { at: Date.now(), body };
      }
      res
        .type('application/json')
        .setHeader('Cache-Control', 'public, max-age=60')
        .send(cached.body);
    },
    async page(_req, res) {
      res
        .type('html')
        .setHeader('Content-Security-Policy', pageSecurityPolicy)
        .setHeader('Cache-Control', 'public, max-age=300')
        .send(page);
    },
    assets: (() => {
      const files = express.static(swaggerUiDir, { index: false, maxAge: '1d', fallthrough: true });
      return function docsAssets(req, res, next) {
        if (req.path === '/init.js' && (req.method === 'GET' || req.method === 'HEAD')) {
          res.type('js').setHeader('Cache-Control', 'public, max-age=300').send(initScript);
          return;
        }
        files(req, res, next);
      };
    })(),
  };
}
