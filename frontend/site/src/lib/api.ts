/**
 * The public API under `/api/`, from the page's own origin. Errors are the API's problem+json
 * (`code`, `title`, `detail`, `errors[]` with field paths), thrown as ApiError so a page can show
 * each next to its field, or as a toast; a network failure is ApiError `network_error`.
 */
export interface FieldProblem {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: readonly FieldProblem[] = [],
    /** The whole problem document (its extra members: a decline's `reason`, say). */
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

type HeaderProvider = (path: string) => Record<string, string> | Promise<Record<string, string>>;

/** Headers every call gets (the session's Authorization, the guest's Cart-Token): set by session. */
const extraHeaders: HeaderProvider[] = [];
export function addHeaders(provider: HeaderProvider): void {
  extraHeaders.push(provider);
}

/**
 * What to do when an answer is 401 `token_expired` although the session thought the token valid
 * (a clock apart from the server's): renew it and say whether to try once more.
 */
let onExpired: (() => Promise<boolean>) | undefined;
export function onTokenExpired(renew: () => Promise<boolean>): void {
  onExpired = renew;
}

function problemOf(status: number, body: unknown): ApiError {
  const problem = (body ?? {}) as {
    code?: string;
    title?: string;
    detail?: string;
    errors?: Array<{ path?: string | Array<string | number>; message?: string }>;
  };
  const errors = (problem.errors ?? []).map((error) => ({
    path: Array.isArray(error.path) ? error.path.join('.') : String(error.path ?? ''),
    message: String(error.message ?? ''),
  }));
  return new ApiError(
    status,
    problem.code ?? `http_${status}`,
    problem.detail ?? problem.title ?? `The shop answered ${status}`,
    errors,
    (body ?? {}) as Record<string, unknown>,
  );
}

export async function request<T>(
  path: string,
  options: RequestOptions = {},
  retried = false,
): Promise<{
  body: T;
  response: Response;
}> {
  const headers: Record<string, string> = { accept: 'application/json' };
  for (const provider of extraHeaders) Object.assign(headers, await provider(path));
  Object.assign(headers, options.headers);
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(`/api${path}`, {
      method: options.method ?? 'GET',
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, 'network_error', 'The shop cannot be reached: check your connection.');
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const problem = problemOf(response.status, body);
    if (problem.code === 'token_expired' && !retried && onExpired && (await onExpired())) {
      return request<T>(path, options, true);
    }
    throw problem;
  }
  return { body: body as T, response };
}

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await request<T>(path, signal ? { signal } : {})).body;
}

export async function send<T>(
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<T> {
  return (
    await request<T>(path, {
      method,
      ...(body !== undefined ? { body } : {}),
      ...(headers ? { headers } : {}),
    })
  ).body;
}

/** `?a=1&b=2` of the defined values (empty when none). */
export function query(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}
