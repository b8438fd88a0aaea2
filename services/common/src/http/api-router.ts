import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { AppError, type FieldError } from '../errors/app-error.js';
import { admit, checkAccess, type Access, type CallerOf } from '../identity/access.js';
import type { Identity } from '../identity/identity.js';
import { fieldErrors, nulCharacters, type RequestPart } from './validation.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ResponseSpec {
  description: string;
  /** The body's schema (JSON), when the response has one worth describing. */
  schema?: z.ZodType;
}

type Schema = z.ZodType | undefined;

/**
 * One operation of a service: what it takes, who may call it, what it answers. The router
 * enforces every part of it before the handler runs, and the OpenAPI document is made from it.
 */
export interface OperationSpec<
  A extends Access = Access,
  P extends Schema = Schema,
  Q extends Schema = Schema,
  B extends Schema = Schema,
> {
  method: HttpMethod;
  /** Express syntax, relative to the router's base path: `/`, `/:id`, `/:id/commit`. */
  path: string;
  summary: string;
  description?: string;
  access: A;
  /** Required when the path has parameters, and then naming exactly those. */
  params?: P;
  /** Without one, the operation takes no query parameters (any is refused). */
  query?: Q;
  /** Without one, the operation takes no body (any is refused). */
  body?: B;
  /** Success responses by status; the refusals the router and the kit give are added. */
  responses: Record<number, ResponseSpec>;
  /**
   * Handlers run once the caller is admitted and the input valid, before the operation's own
   * (`answerFromCache`, say). They are not part of the document.
   */
  before?: RequestHandler[];
}

type Parsed<S extends Schema, Absent> = S extends z.ZodType ? z.output<S> : Absent;

/** What an operation's handler is given: its input parsed by its schemas, and its caller. */
export interface OperationInput<
  A extends Access,
  P extends Schema,
  Q extends Schema,
  B extends Schema,
> {
  params: Parsed<P, Record<never, never>>;
  query: Parsed<Q, Record<never, never>>;
  body: Parsed<B, undefined>;
  identity: CallerOf<A>;
}

export type OperationHandler<I> = (input: I, req: Request, res: Response) => void | Promise<void>;

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

/** The Allow header for a path that takes `methods` (RFC 9110 §10.2.1); GET brings HEAD. */
export function allowHeader(methods: Iterable<string>): string {
  const set = new Set([...methods].map((method) => method.toUpperCase()));
  if (set.has('GET')) set.add('HEAD');
  return [...set].sort().join(', ');
}

const noParameters = z.strictObject({});
const anonymous: Identity = Object.freeze({ roles: [] });
const inputs = new WeakMap<Request, unknown>();

function pathParameters(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map((match) => match[1]!);
}

/** A spec the router could not enforce as written is a programming error: refuse it at start-up. */
function checkSpec(spec: OperationSpec, where: string): void {
  checkAccess(spec.access);
  const names = pathParameters(spec.path);
  if (names.length > 0 && !spec.params) {
    throw new Error(`${where}: the path has parameters (${names.join(', ')}) but no params schema`);
  }
  if (spec.params instanceof z.ZodObject) {
    const declared = Object.keys(spec.params.shape).sort();
    if (declared.join() !== [...names].sort().join()) {
      throw new Error(
        `${where}: params schema names ${declared.join(', ')}, path ${names.join(', ')}`,
      );
    }
  }
}

function parsePart(
  part: RequestPart,
  schema: z.ZodType,
  value: unknown,
  errors: FieldError[],
): unknown {
  errors.push(...nulCharacters(part, value));
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  errors.push(...fieldErrors(part, result.error.issues));
  return undefined;
}

/** Params, query and body by the spec's schemas, every refusal in one 400 `validation_failed`. */
function parseInput(spec: OperationSpec, req: Request) {
  const errors: FieldError[] = [];
  const params = parsePart('params', spec.params ?? noParameters, req.params ?? {}, errors);
  const query = parsePart('query', spec.query ?? noParameters, req.query ?? {}, errors);
  let body: unknown;
  if (spec.body) {
    body = parsePart('body', spec.body, req.body, errors);
  } else if (req.body !== undefined) {
    errors.push({
      path: 'body',
      message: 'must be absent: this takes no body',
      code: 'unexpected_body',
    });
  }
  if (errors.length > 0) throw new AppError('validation_failed', { errors });
  return { params, query, body };
}

/**
 * A router whose routes do what their specs declare. Each route is registered from its
 * OperationSpec; before its handler runs, the router admits the caller by `access` (401/403) and
 * parses params, query and body with the declared schemas (400 `validation_failed` listing every
 * bad field, NUL characters refused everywhere), and the handler gets the parsed values, typed
 * from the spec. A known path asked with another method is 405 with `Allow`. The OpenAPI document
 * is made from the same specs, so it says exactly what is enforced.
 */
export class ApiRouter {
  /**
   * Mount this at `basePath`: the operations, then the 405 answers for their paths. A handler,
   * not a Router, so that no route can be added around the specs (and around the sweep that
   * tests them).
   */
  readonly router: RequestHandler;
  readonly operations: DocumentedOperation[] = [];
  readonly #operations = Router();
  readonly #otherMethods = Router();
  readonly #methodsByPath = new Map<string, Set<HttpMethod>>();

  constructor(
    readonly basePath: string,
    readonly tag: string,
  ) {
    // Every operation is tried before any 405, whatever order the paths were registered in.
    this.router = Router().use(this.#operations, this.#otherMethods);
  }

  route<
    const A extends Access,
    P extends Schema = undefined,
    Q extends Schema = undefined,
    B extends Schema = undefined,
  >(spec: OperationSpec<A, P, Q, B>, handler: OperationHandler<OperationInput<A, P, Q, B>>): this {
    const where = `${spec.method.toUpperCase()} ${this.basePath}${spec.path}`;
    const general = spec as OperationSpec;
    checkSpec(general, where);
    let methods = this.#methodsByPath.get(spec.path);
    if (methods?.has(spec.method)) throw new Error(`${where} is registered twice`);
    if (!methods) {
      methods = new Set();
      this.#methodsByPath.set(spec.path, methods);
      const allow = methods;
      this.#otherMethods.all(spec.path, function refuseMethod() {
        throw new AppError('method_not_allowed', { headers: { allow: allowHeader(allow) } });
      });
    }
    methods.add(spec.method);

    this.#operations[spec.method](
      spec.path,
      function enforceSpec(req, _res, next) {
        const identity = admit(spec.access, req.identity ?? anonymous);
        inputs.set(req, { ...parseInput(general, req), identity });
        next();
      },
      ...(spec.before ?? []),
      function runOperation(req, res) {
        return handler(inputs.get(req) as OperationInput<A, P, Q, B>, req, res);
      },
    );
    this.operations.push({
      ...general,
      fullPath: toOpenApiPath(this.basePath, spec.path),
      tag: this.tag,
    });
    return this;
  }
}
