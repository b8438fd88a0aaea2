import type { AppError, FieldError } from './app-error.js';

/** RFC 9457 problem details, with Mercado's stable `code`. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
}

export const problemContentType = 'application/problem+json; charset=utf-8';

export function problemType(code: string): string {
  return `urn:mercado:problem:${code}`;
}

export function toProblem(error: AppError, instance?: string, requestId?: string): Problem {
  return {
    type: problemType(error.code),
    title: error.title,
    status: error.status,
    code: error.code,
    ...(error.detail ? { detail: error.detail } : {}),
    ...(instance ? { instance } : {}),
    ...(requestId ? { requestId } : {}),
    ...(error.errors ? { errors: error.errors } : {}),
  };
}
