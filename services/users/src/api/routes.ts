import { ApiRouter } from '@mercado/common/http';
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
      async function registerRoute({ body }, _req, res) {
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
      async function loginRoute({ body, identity }, req, res) {
        const ip = identity.ip ?? req.socket.remoteAddress ?? 'unknown';
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
      async function refreshRoute({ body }, _req, res) {
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
      async function logoutRoute({ body }, _req, res) {
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
      function jwksRoute(_input, _req, res) {
        // Short public caching: verifiers refetch on an unknown kid anyway (RFC 7517 key rotation).
        res.setHeader('Cache-Control', 'public, max-age=300');
        res.json(deps.keys.jwks);
      },
    );
}

export function usersRoutes(deps: UsersDeps): ApiRouter {
  return new ApiRouter('/api/users', 'users')
    .route(
      {
        method: 'get',
        path: '/me',
        summary: 'Your own profile',
        access: 'authenticated',
        responses: { 200: { description: 'The profile', schema: userView } },
      },
      async function getMe({ identity }, _req, res) {
        res.json(await getProfile(deps, identity.userId));
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
      async function patchMe({ identity, body }, _req, res) {
        res.json(await updateProfile(deps, identity.userId, body));
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
      async function listRoute({ query }, _req, res) {
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
      async function patchUser({ identity, params, body }, _req, res) {
        res.json(await changeUser(deps, identity.userId, params.id, body));
      },
    );
}
