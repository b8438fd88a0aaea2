import { AppError } from '../errors/app-error.js';
import { currentContext } from '../log/context.js';
import { signIdentity } from '../identity/identity.js';

export interface ServiceClientOptions {
  /** The calling service's name, signed into every request. */
  caller: string;
  /** The called service's base URL(s); several are tried round robin. */
  baseUrls: readonly string[];
  internalSecret: string;
  timeoutMs?: number;
  /** The fetch to call with (the global one by default; tests count requests through their own). */
  fetch?: typeof fetch;
}

export interface ServiceResponse<T> {
  status: number;
  body: T;
}

export interface ServiceClient {
  request<T>(method: string, path: string, body?: unknown): Promise<ServiceResponse<T>>;
}

/**
 * Calls another Mercado service directly (not through the gateway), as `caller`, with a signed
 * service identity and the current request id. A refused connection moves on to the next URL;
 * when none answers (or the deadline passes) the caller gets 503 `service_unavailable`.
 * Non-2xx answers are returned, not thrown: the caller knows what a 409 means to it.
 */
export function createServiceClient({
  caller,
  baseUrls,
  internalSecret,
  timeoutMs = 5000,
  fetch: send = fetch,
}: ServiceClientOptions): ServiceClient {
  if (baseUrls.length === 0) throw new Error(`${caller}: a service client needs at least one URL`);
  let next = 0;
  return {
    async request<T>(method: string, path: string, body?: unknown): Promise<ServiceResponse<T>> {
      const headers: Record<string, string> = {
        accept: 'application/json',
        ...signIdentity({ roles: [], service: caller }, internalSecret),
      };
      const requestId = currentContext()?.requestId;
      if (requestId) headers['x-request-id'] = requestId;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const signal = AbortSignal.timeout(timeoutMs);
      let lastError: unknown;
      for (let attempt = 0; attempt < baseUrls.length; attempt++) {
        const baseUrl = baseUrls[next++ % baseUrls.length]!;
        try {
          const response = await send(`${baseUrl}${path}`, {
            method,
            headers,
            signal,
            ...(payload === undefined ? {} : { body: payload }),
          });
          const text = await response.text();
          return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
        } catch (error) {
          lastError = error;
          if (signal.aborted) break;
        }
      }
      throw new AppError('service_unavailable', { cause: lastError });
    },
  };
}
