import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { errorCatalogue } from '../errors/catalogue.js';
import type { Role } from '../identity/identity.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Who may call an operation: anyone, any signed-in user, some roles, or other services only. */
export type Access = 'public' | 'authenticated' | readonly Role[] | 'service';

export interface ResponseSpec {
  description: string;
  /** The body's schema (JSON), when the response has one worth describing. */
  schema?: z.ZodType;
}

/** One route of a service, described by the same zod schemas its handler validates with. */
export interface OperationSpec {
  method: HttpMethod;
  /** Express syntax, relative to the router's base path: `/`, `/:id`, `/:id/commit`. */
  path: string;
  summary: string;
  description?: string;
  access: Access;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Success responses by status; error responses (problem+json) are added for every operation. */
  responses: Record<number, ResponseSpec>;
}

export interface DocumentedOperation extends OperationSpec {
  /** The full path in OpenAPI syntax: `/api/products/{id}`. */
  fullPath: string;
  tag: string;
}

/** `/api/products/:id` → `/api/products/{id}`; a trailing slash of a router's root is dropped. */
export function toOpenApiPath(basePath: string, path: string): string {
  const joined = `${basePath}${path === '/' ? '' : path}`;
  return joined.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/**
 * A router that documents itself: every route is registered from its OperationSpec, so the
 * OpenAPI document and the routes the service answers cannot drift apart.
 */
export class ApiRouter {
  readonly router = Router();
  readonly operations: DocumentedOperation[] = [];

  constructor(
    readonly basePath: string,
    readonly tag: string,
  ) {}

  route(spec: OperationSpec, ...handlers: RequestHandler[]): this {
    this.router[spec.method](spec.path, ...handlers);
    this.operations.push({
      ...spec,
      fullPath: toOpenApiPath(this.basePath, spec.path),
      tag: this.tag,
    });
    return this;
  }
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const converted = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  // The document's own dialect (OpenAPI 3.1 = JSON Schema 2020-12) applies; no per-schema $schema.
  delete converted.$schema;
  return converted;
}

/** Query or path parameters from an object schema, one per property. */
function parameters(location: 'query' | 'path', schema: z.ZodType | undefined): unknown[] {
  if (!schema) return [];
  const object = jsonSchema(schema) as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (object.required ?? []).includes(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

const problemSchema = {
  type: 'object',
  description: 'RFC 9457 problem details with a stable `code`',
  required: ['type', 'title', 'status', 'code'],
  properties: {
    type: { type: 'string', examples: ['urn:mercado:problem:validation_failed'] },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string', enum: Object.keys(errorCatalogue) },
    detail: { type: 'string' },
    instance: { type: 'string' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'message', 'code'],
        properties: {
          path: { type: 'string', examples: ['body.email'] },
          message: { type: 'string' },
          code: { type: 'string' },
        },
      },
    },
  },
};

function describeAccess(access: Access): string {
  if (access === 'public') return 'Anyone.';
  if (access === 'authenticated') return 'Any signed-in user.';
  if (access === 'service') return 'Other Mercado services only.';
  return `Roles: ${access.join(', ')}.`;
}

function operationObject(operation: DocumentedOperation): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(operation.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema
        ? { content: { 'application/json': { schema: jsonSchema(response.schema) } } }
        : {}),
    };
  }
  const problem = {
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  };
  responses['4XX'] = { description: 'The request was refused (see `code`)', ...problem };
  responses['5XX'] = { description: 'A server-side failure (see `code`)', ...problem };
  const secured = operation.access !== 'public';
  return {
    operationId: `${operation.method}${operation.fullPath
      .replace(/[{}]/g, '')
      .split('/')
      .filter(Boolean)
      .map(
        (part) =>
          part.charAt(0).toUpperCase() +
          part.slice(1).replace(/[-_.](\w)/g, (_, c: string) => c.toUpperCase()),
      )
      .join('')}`,
    summary: operation.summary,
    description: [operation.description, describeAccess(operation.access)]
      .filter(Boolean)
      .join('\n\n'),
    tags: [operation.tag],
    'x-mercado-access': operation.access,
    ...(secured ? { security: [{ bearerAuth: [] }] } : {}),
    parameters: [...parameters('path', operation.params), ...parameters('query', operation.query)],
    ...(operation.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(operation.body) } },
          },
        }
      : {}),
    responses,
  };
}

export interface DocumentInfo {
  title: string;
  version: string;
  description?: string;
}

/** An OpenAPI 3.1 document for `operations` (internal, service-only ones are left out). */
export function openApiDocument(info: DocumentInfo, operations: DocumentedOperation[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of operations) {
    if (operation.access === 'service') continue;
    (paths[operation.fullPath] ??= {})[operation.method] = operationObject(operation);
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: {
      schemas: { Problem: problemSchema },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof openApiDocument>;
