import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { allowHeader, type DocumentedOperation } from '../http/api-router.js';
import { fieldErrors, type RequestPart } from '../http/validation.js';
import { isServiceAccess } from '../identity/access.js';
import { roles, type Identity } from '../identity/identity.js';
import type { Knex } from 'knex';
import { sendRawHttp, unparsableRequests } from './raw-http.js';
import {
  expectProblemAnswer,
  expectRefusals,
  snapshotTables,
  type CallOptions,
  type CallResult,
  type RefusalCase,
} from './testing.js';

/** A valid input for an operation, from which the sweep derives inputs its schemas refuse. */
export interface OperationExample {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
}

/** `METHOD /full/{path}`: how a sweep names an operation (and keys its examples). */
export function operationKey(operation: DocumentedOperation): string {
  return `${operation.method.toUpperCase()} ${operation.fullPath}`;
}

/** A caller the operation's access admits. */
export function admittedIdentity(operation: DocumentedOperation): Identity {
  const { access } = operation;
  if (access === 'public') return { roles: [] };
  if (isServiceAccess(access)) return { roles: [], service: access.services[0]! };
  if (access === 'authenticated') return { userId: randomUUID(), roles: ['customer'] };
  return { userId: randomUUID(), roles: [access[0]!] };
}

/** Callers the operation's access refuses, each with the refusal it must get. */
function refusedCallers(
  operation: DocumentedOperation,
): Array<{ who: string; identity?: Identity; status: number; code: string }> {
  const { access } = operation;
  if (access === 'public') return [];
  if (isServiceAccess(access)) {
    return [
      { who: 'anonymous', status: 401, code: 'unauthorized' },
      {
        who: 'a user',
        identity: { userId: randomUUID(), roles: ['admin'] },
        status: 401,
        code: 'unauthorized',
      },
      {
        who: 'another service',
        identity: { roles: [], service: 'stranger' },
        status: 403,
        code: 'forbidden',
      },
    ];
  }
  const refused: Array<{ who: string; identity?: Identity; status: number; code: string }> = [
    { who: 'anonymous', status: 401, code: 'unauthorized' },
    {
      who: 'a service',
      identity: { roles: [], service: 'orders' },
      status: 401,
      code: 'unauthorized',
    },
  ];
  if (access !== 'authenticated') {
    const others = roles.filter((role) => !access.includes(role));
    if (others.length > 0) {
      refused.push({
        who: `roles ${others.join(', ')}`,
        identity: { userId: randomUUID(), roles: others },
        status: 403,
        code: 'forbidden',
      });
    }
  }
  return refused;
}

function url(
  operation: DocumentedOperation,
  params: Record<string, string>,
  query: Record<string, string | string[]>,
  rawParams: Record<string, string> = {},
): string {
  const path = operation.fullPath.replace(/\{([A-Za-z0-9_]+)\}/g, (_, name: string) =>
    name in rawParams ? rawParams[name]! : encodeURIComponent(params[name] ?? ''),
  );
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const item of [value].flat()) search.append(key, item);
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

/** The field paths a schema's refusal of `value` names, as the router reports them. */
function refusedPaths(part: RequestPart, schema: z.ZodType, value: unknown): string[] | undefined {
  const result = schema.safeParse(value);
  if (result.success) return undefined;
  return [...new Set(fieldErrors(part, result.error.issues).map((error) => error.path))];
}

/** Every leaf of a JSON value, with its path below `root`. */
function leaves(value: unknown, root: string[] = []): Array<{ path: string[]; value: unknown }> {
  if (Array.isArray(value)) return value.flatMap((item, i) => leaves(item, [...root, String(i)]));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).flatMap(([key, item]) => leaves(item, [...root, key]));
  }
  return [{ path: root, value }];
}

function replaced(value: unknown, path: string[], leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const [head, ...rest] = path as [string, ...string[]];
  if (Array.isArray(value)) {
    return value.map((item, i) => (String(i) === head ? replaced(item, rest, leaf) : item));
  }
  const object = value as Record<string, unknown>;
  return { ...object, [head]: replaced(object[head], rest, leaf) };
}

/** Values of another JSON type than `value`, to put where it was. */
function wrongTypes(value: unknown): unknown[] {
  switch (typeof value) {
    case 'string':
      return [12345, true, null, ['x'], { x: 1 }];
    case 'number':
      return ['12', true, null, 1.5, -1, 2 ** 60];
    case 'boolean':
      return ['true', 1, null];
    default:
      return ['x', 1];
  }
}

/**
 * Requests every operation's spec refuses, each with the refusal it must get: callers its access
 * does not admit (401/403), and, as an admitted caller, its valid example altered so that a
 * schema refuses it — NUL in every string, malformed percent-encoding and refused values in every
 * path parameter, unknown and NUL query parameters, wrong types in every body field, no body, a
 * body where none is taken. Sent to the service, none of them may reach a handler: each answer is
 * the refusal (not what the handler would say) and nothing changes.
 */
export function refusalsOf(
  operation: DocumentedOperation,
  example: OperationExample,
): RefusalCase[] {
  const key = operationKey(operation);
  const method = operation.method.toUpperCase();
  const params = example.params ?? {};
  const query = example.query ?? {};
  const body = example.body;
  for (const [part, schema, value] of [
    ['params', operation.params, params],
    ['query', operation.query, query],
    ['body', operation.body, body],
  ] as const) {
    if (schema && !schema.safeParse(value).success) {
      throw new Error(`${key}: the example's ${part} is not valid: ${JSON.stringify(value)}`);
    }
  }
  const cases: RefusalCase[] = [];
  const identity = admittedIdentity(operation);
  const send = (name: string, status: number, code: string, options: Partial<RefusalCase>) =>
    cases.push({
      name: `${key}: ${name}`,
      method,
      path: url(operation, params, query),
      identity,
      ...(body !== undefined ? { body } : {}),
      status,
      code,
      ...options,
    });
  const invalid = (name: string, paths: string[] | undefined, options: Partial<RefusalCase>) =>
    send(name, 400, 'validation_failed', { ...(paths ? { paths } : {}), ...options });

  for (const refused of refusedCallers(operation)) {
    const { identity: caller, ...rest } = refused;
    cases.push({
      name: `${key}: called by ${refused.who}`,
      method,
      path: url(operation, params, query),
      ...(caller ? { identity: caller } : {}),
      ...(body !== undefined ? { body } : {}),
      status: rest.status,
      code: rest.code,
    });
  }

  for (const name of Object.keys(params)) {
    const withNul = { ...params, [name]: `${params[name]}\u0000` };
    invalid(`NUL in params.${name}`, [`params.${name}`], { path: url(operation, withNul, query) });
    for (const raw of ['%zz', '%C0%AF', `${encodeURIComponent(params[name]!)}%E0%A4%A`]) {
      send(`params.${name} as ${raw}`, 400, 'invalid_path', {
        path: url(operation, params, query, { [name]: raw }),
      });
    }
    for (const candidate of ['x', '-1', 'x'.repeat(300), '1e3', ' ']) {
      const altered = { ...params, [name]: candidate };
      const paths = refusedPaths('params', operation.params!, altered);
      if (paths) {
        invalid(`params.${name} = ${candidate.slice(0, 10)}`, paths, {
          path: url(operation, altered, query),
        });
      }
    }
  }

  const unknownQuery = { ...query, mercado_unknown: '1' };
  const unknownPaths = operation.query
    ? refusedPaths('query', operation.query, unknownQuery)
    : ['query.mercado_unknown'];
  if (unknownPaths) {
    invalid('an unknown query parameter', unknownPaths, {
      path: url(operation, params, unknownQuery),
    });
  }
  for (const name of Object.keys(query)) {
    const withNul = { ...query, [name]: `${query[name]}\u0000` };
    invalid(`NUL in query.${name}`, [`query.${name}`], { path: url(operation, params, withNul) });
    const repeated = { ...query, [name]: [query[name]!, query[name]!] };
    const paths = refusedPaths('query', operation.query!, repeated);
    if (paths) {
      invalid(`query.${name} given twice`, paths, { path: url(operation, params, repeated) });
    }
  }

  if (!operation.body) {
    // fetch sends no body with a GET; express would not parse one either.
    if (method !== 'GET') invalid('a body where none is taken', ['body'], { body: {} });
    return cases;
  }
  const schema = operation.body;
  const noBody = refusedPaths('body', schema, undefined);
  if (noBody) invalid('no body', noBody, { body: undefined });
  const emptyList = refusedPaths('body', schema, []);
  if (emptyList) invalid('the body []', emptyList, { body: [] });
  // The JSON parser takes objects and arrays only (strict), whatever the schema says.
  for (const scalar of ['"text"', '42', 'null']) {
    send(`the body ${scalar}`, 400, 'invalid_json', { body: undefined, rawBody: scalar });
  }
  for (const leaf of leaves(body)) {
    const where = ['body', ...leaf.path].join('.');
    if (typeof leaf.value === 'string') {
      invalid(`NUL in ${where}`, [where], {
        body: replaced(body, leaf.path, `${leaf.value}\u0000`),
      });
    }
    for (const wrong of wrongTypes(leaf.value)) {
      const altered = replaced(body, leaf.path, wrong);
      const paths = refusedPaths('body', schema, altered);
      if (paths) invalid(`${where} = ${JSON.stringify(wrong)}`, paths, { body: altered });
    }
  }
  const unknownField = { ...(body as object), mercadoUnknown: 1 };
  const unknownFieldPaths = refusedPaths('body', schema, unknownField);
  if (unknownFieldPaths)
    invalid('an unknown body field', unknownFieldPaths, { body: unknownField });
  return cases;
}

interface SweepAsserts {
  same(found: unknown, wanted: unknown, message: string): unknown;
}

type Asserts = Parameters<typeof expectProblemAnswer>[0];

/**
 * Every operation must have an example (so a new route cannot skip the sweep), and no example may
 * name an operation that is gone; returns the refusal table for all of them.
 */
export function refusalsOfAll(
  t: SweepAsserts,
  operations: readonly DocumentedOperation[],
  examples: Readonly<Record<string, OperationExample>>,
): RefusalCase[] {
  const keys = operations.map(operationKey);
  t.same(
    keys.filter((key) => !(key in examples)),
    [],
    'every operation has an example to derive refused input from',
  );
  t.same(
    Object.keys(examples).filter((key) => !keys.includes(key)),
    [],
    'every example names an operation',
  );
  return [
    ...operations.flatMap((operation) =>
      operationKey(operation) in examples
        ? refusalsOf(operation, examples[operationKey(operation)]!)
        : [],
    ),
    ...otherMethods(operations, examples),
  ];
}

/** For every path, a method it does not take: 405 with `Allow` naming those it does. */
function otherMethods(
  operations: readonly DocumentedOperation[],
  examples: Readonly<Record<string, OperationExample>>,
): RefusalCase[] {
  const byPath = new Map<string, DocumentedOperation[]>();
  for (const operation of operations) {
    byPath.set(operation.fullPath, [...(byPath.get(operation.fullPath) ?? []), operation]);
  }
  return [...byPath.values()].flatMap((sharing) => {
    const methods = sharing.map((operation) => operation.method);
    const other = (['delete', 'put', 'patch', 'post', 'get'] as const).find(
      (method) => !methods.includes(method),
    );
    if (!other) return [];
    const first = sharing[0]!;
    const example = examples[operationKey(first)] ?? {};
    return [
      {
        name: `${other.toUpperCase()} ${first.fullPath}: a method the path does not take`,
        method: other.toUpperCase(),
        path: url(first, example.params ?? {}, {}),
        status: 405,
        code: 'method_not_allowed',
        allow: allowHeader(methods),
      },
    ];
  });
}

/** What a hostile-input sweep sends to a service, directly or through the gateway. */
export interface HostileInputSweep {
  /** The service's tables: none may change. */
  tables: string[];
  /** A valid input for every operation; the sweep derives from each the inputs its spec refuses. */
  examples: Record<string, OperationExample>;
  /** Well-formed requests naming ids nothing has, and the refusal each gets. */
  unknownIds: RefusalCase[];
  /** Paths to send requests Node's parser refuses to. */
  rawPaths: string[];
}

/** `[method, path, caller, body, status, code]` rows as refusal cases. */
export function unknownIdCases(
  rows: ReadonlyArray<
    readonly [string, string, Identity, Record<string, unknown> | undefined, number, string]
  >,
): RefusalCase[] {
  return rows.map(([method, path, identity, body, status, code]) => ({
    name: `${method} ${path}: an unknown id`,
    method,
    path,
    identity,
    ...(body ? { body } : {}),
    status,
    code,
  }));
}

interface SweptService {
  url: string;
  db: Knex;
  operations: readonly DocumentedOperation[];
  logs: { lines: Array<Record<string, unknown>> };
  call(method: string, path: string, options: CallOptions): Promise<CallResult>;
}

/**
 * Sends a service the whole hostile-input sweep — every operation's refused input, the unknown
 * ids, requests Node's parser refuses — and asserts each refusal, that no table changed, and that
 * nothing reached the server-error path. `afterRefusedInput` runs once the refused input is sent,
 * before the unknown ids (which may legitimately ask other services).
 */
export async function expectHostileInputRefused(
  t: SweepAsserts & Asserts & { ok(value: unknown, message: string): unknown },
  service: SweptService,
  sweep: HostileInputSweep,
  afterRefusedInput: () => void = () => undefined,
): Promise<void> {
  const before = await snapshotTables(service.db, sweep.tables);
  const cases = refusalsOfAll(t, service.operations, sweep.examples);
  await expectRefusals(t, service.call, cases);
  afterRefusedInput();
  await expectRefusals(t, service.call, sweep.unknownIds);
  for (const path of sweep.rawPaths) {
    for (const { name, bytes, status, code } of unparsableRequests(path)) {
      const answer = await sendRawHttp(service.url, bytes);
      expectProblemAnswer(t, answer, { name: `${path}: ${name}`, status, code });
    }
  }
  const sent = cases.length + sweep.unknownIds.length;
  t.same(await snapshotTables(service.db, sweep.tables), before, `none of ${sent} wrote anything`);
  t.notOk(
    service.logs.lines.some((line) => line.level === 'error'),
    'no hostile input reached the server-error path',
  );
}
