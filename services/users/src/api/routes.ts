import { Router } from 'express';
import { AppError, requireRole, validate } from '@mercado/common';
import type { UsersDeps } from '../domain/deps.js';
import { getProfile, register, updateProfile } from '../domain/accounts.js';
import { login, logout, refresh } from '../domain/sessions.js';
import { changeUser, searchUsers } from '../domain/admin.js';
import {
  adminUpdateBody,
  listUsersQuery,
  loginBody,
  refreshBody,
  registerBody,
  updateMeBody,
  userIdParams,
} from './schemas.js';

/** Token responses must not be cached by anything in between (RFC 6749 §5.1). */
function noStore(res: { setHeader(name: string, value: string): unknown }): void {
  res.setHeader('Cache-Control', 'no-store');
}

export function authRoutes(deps: UsersDeps): Router {
  const router = Router();

  router.post('/register', async function registerRoute(req, res) {
    const body = validate(registerBody, req.body);
    noStore(res);
    res.status(201).json(await register(deps, body));
  });

  router.post('/login', async function loginRoute(req, res) {
    const body = validate(loginBody, req.body);
    const ip = req.identity.ip ?? req.socket.remoteAddress ?? 'unknown';
    noStore(res);
    res.json(await login(deps, { ...body, ip }));
  });

  router.post('/refresh', async function refreshRoute(req, res) {
    const body = validate(refreshBody, req.body);
    noStore(res);
    res.json(await refresh(deps, body.refreshToken));
  });

  router.post('/logout', async function logoutRoute(req, res) {
    const body = validate(refreshBody, req.body);
    await logout(deps, body.refreshToken);
    res.status(204).end();
  });

  router.get('/jwks.json', function jwksRoute(_req, res) {
    // Short public caching: verifiers refetch on an unknown kid anyway (RFC 7517 key rotation).
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(deps.keys.jwks);
  });

  return router;
}

export function usersRoutes(deps: UsersDeps): Router {
  const router = Router();

  router.get('/me', requireRole(), async function getMe(req, res) {
    res.json(await getProfile(deps, req.identity.userId!));
  });

  router.patch('/me', requireRole(), async function patchMe(req, res) {
    const body = validate(updateMeBody, req.body);
    res.json(await updateProfile(deps, req.identity.userId!, body));
  });

  router.get('/', requireRole('admin'), async function listRoute(req, res) {
    const query = validate(listUsersQuery, req.query, 'query');
    res.json(await searchUsers(deps, query));
  });

  router.patch('/:id', requireRole('admin'), async function patchUser(req, res) {
    const { id } = validate(userIdParams, req.params, 'params');
    const body = validate(adminUpdateBody, req.body);
    res.json(await changeUser(deps, req.identity.userId!, id, body));
  });

  router.all(['/me', '/', '/:id'], function methodNotAllowed() {
    throw new AppError('method_not_allowed');
  });

  return router;
}
