import { AppError } from '@mercado/common/errors';
import { ApiRouter, validate } from '@mercado/common/http';
import { requireRole } from '@mercado/common/identity';
import type { UsersDeps } from '../domain/deps.js';
import { getProfile, register, updateProfile } from '../domain/accounts.js';
import { login, logout, refresh } from '../domain/sessions.js';
import { changeUser, searchUsers } from '../domain/admin.js';
import {
  adminUpdateBody,
  jwksView,
  listUsersQuery,
  loginBody,
  refreshBody,
  registerBody,
  sessionView,
  updateMeBody,
  userIdParams,
  userPage,
  userView,
} from './schemas.js';

/** Token responses must not be cached by anything in between (RFC 6749 §5.1). */
function noStore(res: { setHeader(name: string, value: string): unknown }): void {
  res.setHeader('Cache-Control', 'no-store');
}

export function authRoutes(deps: UsersDeps): ApiRouter {
  return new ApiRouter('/api/auth', 'auth')
    .route(
      {
        method: 'post',
        path: '/register',
        summary: 'Create an account (customer, seller or both) and sign in',
        access: 'public',
        body: registerBody,
        responses: { 201: { description: 'The new account, signed in', schema: sessionView } },
      },
      async function registerRoute(req, res) {
        const body = validate(registerBody, req.body);
        noStore(res);
        res.status(201).json(await register(deps, body));
      },
    )
    .route(
      {
        method: 'post',
        path: '/login',
        summary: 'Sign in with email and password',
        description:
          'Repeated failures per account or per address are answered 429 with Retry-After.',
        access: 'public',
        body: loginBody,
        responses: { 200: { description: 'A new session', schema: sessionView } },
      },
      async function loginRoute(req, res) {
        const body = validate(loginBody, req.body);
        const ip = req.identity.ip ?? req.socket.remoteAddress ?? 'unknown';
        noStore(res);
        res.json(await login(deps, { ...body, ip }));
      },
    )
    .route(
      {
        method: 'post',
        path: '/refresh',
        summary: 'Exchange a refresh token for a new session (the token is spent)',
        description: 'Presenting a spent refresh token revokes its whole sign-in.',
        access: 'public',
        body: refreshBody,
        responses: { 200: { description: 'A new session', schema: sessionView } },
      },
      async function refreshRoute(req, res) {
        const body = validate(refreshBody, req.body);
        noStore(res);
        res.json(await refresh(deps, body.refreshToken));
      },
    )
    .route(
      {
        method: 'post',
        path: '/logout',
        summary: 'Revoke the sign-in a refresh token belongs to',
        access: 'public',
        body: refreshBody,
        responses: { 204: { description: 'Signed out (also for an unknown token)' } },
      },
      async function logoutRoute(req, res) {
        const body = validate(refreshBody, req.body);
        await logout(deps, body.refreshToken);
        res.status(204).end();
      },
    )
    .route(
      {
        method: 'get',
        path: '/jwks.json',
        summary: 'The public keys that verify access tokens',
        access: 'public',
        responses: { 200: { description: 'A JSON Web Key Set', schema: jwksView } },
      },
      function jwksRoute(_req, res) {
        // Short public caching: verifiers refetch on an unknown kid anyway (RFC 7517 key rotation).
        res.setHeader('Cache-Control', 'public, max-age=300');
        res.json(deps.keys.jwks);
      },
    );
}

export function usersRoutes(deps: UsersDeps): ApiRouter {
  const api = new ApiRouter('/api/users', 'users')
    .route(
      {
        method: 'get',
        path: '/me',
        summary: 'Your own profile',
        access: 'authenticated',
        responses: { 200: { description: 'The profile', schema: userView } },
      },
      requireRole(),
      async function getMe(req, res) {
        res.json(await getProfile(deps, req.identity.userId!));
      },
    )
    .route(
      {
        method: 'patch',
        path: '/me',
        summary: 'Change your name or password',
        description: 'A password change needs the current one and signs out every session.',
        access: 'authenticated',
        body: updateMeBody,
        responses: { 200: { description: 'The updated profile', schema: userView } },
      },
      requireRole(),
      async function patchMe(req, res) {
        const body = validate(updateMeBody, req.body);
        res.json(await updateProfile(deps, req.identity.userId!, body));
      },
    )
    .route(
      {
        method: 'get',
        path: '/',
        summary: 'List and search users, newest first',
        access: ['admin'],
        query: listUsersQuery,
        responses: { 200: { description: 'A page of users', schema: userPage } },
      },
      requireRole('admin'),
      async function listRoute(req, res) {
        const query = validate(listUsersQuery, req.query, 'query');
        res.json(await searchUsers(deps, query));
      },
    )
    .route(
      {
        method: 'patch',
        path: '/:id',
        summary: "Change a user's roles, name or disabled flag",
        description:
          'Disabling signs the user out everywhere. Admins cannot disable or demote themselves.',
        access: ['admin'],
        params: userIdParams,
        body: adminUpdateBody,
        responses: { 200: { description: 'The updated user', schema: userView } },
      },
      requireRole('admin'),
      async function patchUser(req, res) {
        const { id } = validate(userIdParams, req.params, 'params');
        const body = validate(adminUpdateBody, req.body);
        res.json(await changeUser(deps, req.identity.userId!, id, body));
      },
    );
  api.router.all(['/me', '/', '/:id'], function methodNotAllowed() {
    throw new AppError('method_not_allowed');
  });
  return api;
}
