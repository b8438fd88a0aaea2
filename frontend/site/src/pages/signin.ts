import { mergeGuestCart, nextPath } from '../lib/account.js';
import { byId } from '../lib/dom.js';
import { busy, fieldProblem, showProblem, clearProblems } from '../lib/forms.js';
import { mountLayout } from '../lib/layout.js';
import { signIn } from '../lib/session.js';

/**
 * Sign in, then back where the shopper came from (`?next=/cart`, same-origin paths only), the
 * guest cart merged into the account's.
 */
mountLayout();
const form = byId<HTMLFormElement>('signin-form');

byId<HTMLAnchorElement>('register-link').href = `/register${location.search}`;
form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearProblems(form);
  const email = (form.elements.namedItem('email') as HTMLInputElement).value.trim();
  const password = (form.elements.namedItem('password') as HTMLInputElement).value;
  let missing = false;
  if (!email) missing = fieldProblem(form, 'email', 'Enter your email.') || missing;
  if (!password) missing = fieldProblem(form, 'password', 'Enter your password.') || missing;
  if (missing) {
    form.querySelector<HTMLElement>('.is-invalid')?.focus();
    return;
  }
  void busy(form, async () => {
    try {
      await signIn(email, password);
      await mergeGuestCart().catch(() => undefined);
      location.assign(nextPath());
    } catch (error) {
      showProblem(form, error);
    }
  });
});
