import { z } from 'zod';
import type { ErrorCatalogue } from '../errors/define-errors.js';
import { describeAccess, isServiceAccess } from '../identity/access.js';
import type { DocumentedOperation } from './api-router.js';

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

/** RFC 9457 problem details, whose `code` is one of `codes`. */
export function problemSchema(codes: readonly string[]) {
  return {
    type: 'object',
    description: 'RFC 9457 problem details with a stable `code`',
    required: ['type', 'title', 'status', 'code'],
    properties: {
      type: { type: 'string', examples: ['urn:mercado:problem:validation_failed'] },
      title: { type: 'string' },
      status: { type: 'integer' },
      code: { type: 'string', enum: codes },
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
}

const problem = {
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
};

/** The refusals the router and the kit give this operation before (or instead of) its handler. */
function refusals(operation: DocumentedOperation): Record<string, unknown> {
  const invalid = [
    '`validation_failed` (each bad field in `errors`, NUL characters included)',
    ...(operation.body ? ['`invalid_json`'] : []),
    ...(operation.params
      ? ['`invalid_path` (a path segment that is not percent-encoded UTF-8)']
      : []),
  ];
  const answers: Record<string, { description: string }> = {
    400: { description: `The input is refused: ${invalid.join(', ')}` },
  };
  if (operation.access !== 'public') {
    answers[401] = { description: '`unauthorized`: no caller this operation admits' };
  }
  if (operation.access !== 'public' && operation.access !== 'authenticated') {
    answers[403] = { description: '`forbidden`: the caller is not one this operation admits' };
  }
  if (operation.body) {
    answers[413] = { description: '`payload_too_large`' };
    answers[415] = { description: '`unsupported_media_type`: the body must be JSON' };
  }
  answers['4XX'] = { description: 'Another refusal (see `code`)' };
  answers['5XX'] = { description: 'A server-side failure (see `code`)' };
  return Object.fromEntries(
    Object.entries(answers).map(([status, answer]) => [status, { ...answer, ...problem }]),
  );
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
  Object.assign(responses, refusals(operation));
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

/** What every Mercado API document says of its errors and of the methods its paths take. */
export const errorsDescription =
  'Errors are application/problem+json with a stable `code` (see the Problem schema). A path ' +
  'asked with a method it does not list answers 405 `method_not_allowed`, its `Allow` header ' +
  'naming the methods it takes.';

/**
 * An OpenAPI 3.1 document for `operations` (internal, service-only ones are left out), whose
 * Problem lists the codes of the service's catalogue.
 */
export function openApiDocument(
  info: DocumentInfo,
  operations: DocumentedOperation[],
  errors: ErrorCatalogue,
) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of operations) {
    if (isServiceAccess(operation.access)) continue;
    (paths[operation.fullPath] ??= {})[operation.method] = operationObject(operation);
  }
  return {
    openapi: '3.1.0',
    info: {
      ...info,
      description: [info.description, errorsDescription].filter(Boolean).join('\n\n'),
    },
    paths,
    components: {
      schemas: { Problem: problemSchema(Object.keys(errors.entries)) },
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof openApiDocument>;
