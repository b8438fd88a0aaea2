import { addHeaders, onTokenExpired, send } from './api.js';

/**
 * The shopper's session in this browser: the access token (short-lived) and the refresh token,
 * kept in localStorage so every tab and page shares one sign-in. The access token is renewed
 * silently a little before it expires (and once more when the API says it has), each renewal
 * spending the refresh token for a new one, as the users service requires; listeners hear every
 * change (the live connection re-authenticates with the new token). A guest's cart token is kept
 * here too, sent with cart calls, and dropped once a signed-in cart call has merged it.
 *
 * The tokens are readable by the page's scripts: the site's CSP allows only its own scripts, and
 * every page builds its DOM from data, never from HTML strings.
 */
export interface SessionUser {
  id: string;
  email: string;
  name: string;
  roles: string[];
}

interface StoredSession {
  user: SessionUser;
  accessToken: string;
  /** Epoch ms. */
  accessExpiresAt: number;
  /** The access token's lifetime when issued, ms. */
  accessTtlMs: number;
  refreshToken: string;
}

interface SessionAnswer {
  user: SessionUser;
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
}

const sessionKey = 'mercado.session';
const cartKey = 'mercado.cartToken';
/** Renewed this long before it expires (or a quarter of its life, for a short-lived one). */
const renewAheadMs = (session: StoredSession) => Math.min(30_000, (session.accessTtlMs || 0) / 4);
const listeners = new Set<(user: SessionUser | undefined) => void>();
let renewing: Promise<boolean> | undefined;

function read(): StoredSession | undefined {
  try {
    const stored = JSON.parse(localStorage.getItem(sessionKey) ?? 'null') as StoredSession | null;
    return stored?.accessToken && stored.refreshToken ? stored : undefined;
  } catch {
    return undefined;
  }
}

function store(answer: SessionAnswer | undefined): void {
  if (answer) {
    const session: StoredSession = {
      user: answer.user,
      accessToken: answer.accessToken,
      accessExpiresAt: Date.now() + answer.expiresIn * 1000,
      accessTtlMs: answer.expiresIn * 1000,
      refreshToken: answer.refreshToken,
    };
    localStorage.setItem(sessionKey, JSON.stringify(session));
  } else {
    localStorage.removeItem(sessionKey);
  }
  for (const listener of listeners) listener(answer?.user);
}

export function currentUser(): SessionUser | undefined {
  return read()?.user;
}

export function hasRole(role: string): boolean {
  return currentUser()?.roles.includes(role) ?? false;
}

/** Called with the user (undefined: signed out) whenever the session changes, in any tab. */
export function onSessionChange(listener: (user: SessionUser | undefined) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

window.addEventListener('storage', (event) => {
  if (event.key !== sessionKey) return;
  for (const listener of listeners) listener(currentUser());
});

/**
 * Spends the refresh token for a new session; false (signed out) when it is no longer good.
 * One tab at a time (the Web Locks API, where the page is a secure context): a refresh token is
 * spent once, so two tabs spending the same one together would see one refused and sign out. A
 * tab that waited finds the session another tab renewed meanwhile, and takes it.
 */
function renew(): Promise<boolean> {
  const spent = read()?.refreshToken;
  renewing ??= oneTabAtATime(async () => {
    const session = read();
    if (!session) return false;
    if (session.refreshToken !== spent) return true;
    try {
      store(
        await send<SessionAnswer>('POST', '/auth/refresh', { refreshToken: session.refreshToken }),
      );
      return true;
    } catch (error) {
      // Another tab may have spent it first: its new session is in storage then.
      const now = read();
      if (now && now.refreshToken !== session.refreshToken) return true;
      if ((error as { status?: number }).status && (error as { status: number }).status < 500) {
        store(undefined);
      }
      return false;
    }
  }).finally(() => (renewing = undefined));
  return renewing;
}

async function oneTabAtATime(task: () => Promise<boolean>): Promise<boolean> {
  // Undefined outside a secure context (plain HTTP on a non-local address): each tab on its own.
  const locks = navigator.locks as LockManager | undefined;
  return locks ? await locks.request('mercado.session.renew', task) : task();
}

/** A valid access token, renewed first when it is about to expire; undefined when signed out. */
export async function accessToken(): Promise<string | undefined> {
  let session = read();
  if (!session) return undefined;
  if (session.accessExpiresAt - renewAheadMs(session) <= Date.now()) {
    if (!(await renew())) return undefined;
    session = read();
  }
  return session?.accessToken;
}

/** When the access token will want renewing (for a timer that keeps a live connection fresh). */
export function accessRenewalDue(): number | undefined {
  const session = read();
  return session ? session.accessExpiresAt - renewAheadMs(session) : undefined;
}

export async function signIn(email: string, password: string): Promise<SessionUser> {
  const answer = await send<SessionAnswer>('POST', '/auth/login', { email, password });
  store(answer);
  return answer.user;
}

export async function register(fields: {
  email: string;
  password: string;
  name: string;
  seller?: boolean;
}): Promise<SessionUser> {
  const answer = await send<SessionAnswer>('POST', '/auth/register', {
    email: fields.email,
    password: fields.password,
    name: fields.name,
    ...(fields.seller ? { roles: ['customer', 'seller'] } : {}),
  });
  store(answer);
  return answer.user;
}

export async function signOut(): Promise<void> {
  const session = read();
  store(undefined);
  if (session) {
    await send('POST', '/auth/logout', { refreshToken: session.refreshToken }).catch(
      () => undefined,
    );
  }
}

export function cartToken(): string | undefined {
  return localStorage.getItem(cartKey) ?? undefined;
}

export function keepCartToken(token: string | undefined): void {
  if (token) localStorage.setItem(cartKey, token);
  else localStorage.removeItem(cartKey);
}

addHeaders(async (path) => {
  const headers: Record<string, string> = {};
  if (path.startsWith('/auth/')) return headers;
  const token = await accessToken();
  if (token) headers.authorization = `Bearer ${token}`;
  const cart = cartToken();
  if (cart && path.startsWith('/cart')) headers['cart-token'] = cart;
  return headers;
});
onTokenExpired(renew);
