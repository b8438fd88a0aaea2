import { getCart } from './cart-api.js';
import { cartToken, keepCartToken } from './session.js';

/** Where to go after signing in: `?next=`, a path of this site only (not `//elsewhere`). */
export function nextPath(): string {
  const next = new URLSearchParams(location.search).get('next') ?? '/';
  return /^\/(?![/\\])/.test(next) ? next : '/';
}

/**
 * A guest cart merged into the account's (the first signed-in cart call with its token does it),
 * and its token forgotten.
 */
export async function mergeGuestCart(): Promise<void> {
  if (!cartToken()) return;
  try {
    await getCart();
  } finally {
    keepCartToken(undefined);
  }
}

/** The sign-in page that comes back here afterwards. */
export function signInHere(): string {
  return `/signin?next=${encodeURIComponent(location.pathname + location.search)}`;
}
