import { get, query, send } from './api.js';
import type { CategoryNode } from './catalog-api.js';

/** The back office's shapes and calls, as the services' READMEs and OpenAPI documents give them. */
export const roles = ['customer', 'seller', 'admin', 'terminal'] as const;
export type Role = (typeof roles)[number];

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface AdminUser {
  id: string;
  email: string;
  name: string;
  roles: Role[];
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface UserQuery {
  q?: string;
  role?: Role;
  disabled?: 'true' | 'false';
  cursor?: string;
  limit?: number;
}

export const listUsers = (filter: UserQuery) =>
  get<Page<AdminUser>>(`/users${query({ ...filter })}`);

export const updateUser = (
  id: string,
  change: { roles?: Role[]; disabled?: boolean; name?: string },
) => send<AdminUser>('PATCH', `/users/${encodeURIComponent(id)}`, change);

export interface TerminalTransaction {
  id: string;
  kind: 'payment' | 'reversal';
  outcome: 'approved' | 'declined' | 'reversed';
  amountMinor: number;
  currency: string;
  transactionId: string | null;
  orderId: string | null;
  cardBrand: string | null;
  cardLast4: string | null;
  reason: string | null;
  at: string;
}

export interface Terminal {
  id: string;
  name: string;
  location: string | null;
  mqtt: { username: string; clientId: string };
  presence: { status: 'online' | 'offline' | 'unknown'; since: string | null };
  lastTransactions: TerminalTransaction[];
  today: Array<{
    currency: string;
    approvedCount: number;
    approvedMinor: number;
    declinedCount: number;
    reversedCount: number;
    reversedMinor: number;
    netMinor: number;
  }>;
  createdAt: string;
  createdBy: string;
  secretRotatedAt: string;
}

export interface TerminalCredentials {
  terminal: Terminal;
  secret: string;
}

export const listTerminals = (cursor?: string) =>
  get<Page<Terminal>>(`/terminals${query({ cursor, limit: 50 })}`);

export const registerTerminal = (fields: { name: string; id?: string; location?: string }) =>
  send<TerminalCredentials>('POST', '/terminals', fields);

export const rotateSecret = (id: string) =>
  send<TerminalCredentials>('POST', `/terminals/${encodeURIComponent(id)}/secret`);

export const deleteTerminal = (id: string) =>
  send<undefined>('DELETE', `/terminals/${encodeURIComponent(id)}`);

export interface CategoryRow {
  id: string;
  slug: string;
  name: string;
  parentId: string | null;
  createdAt: string;
}

export type { CategoryNode };

export const createCategory = (fields: { slug: string; name: string; parentId?: string }) =>
  send<CategoryRow>('POST', '/categories', fields);

export const updateCategory = (id: string, change: { name?: string; slug?: string }) =>
  send<CategoryRow>('PATCH', `/categories/${encodeURIComponent(id)}`, change);

export const deleteCategory = (id: string) =>
  send<undefined>('DELETE', `/categories/${encodeURIComponent(id)}`);
