import { mergeGuestCart, nextPath } from '../lib/account.js';
import { byId } from '../lib/dom.js';
import { busy, clearProblems, fieldProblem, showProblem } from '../lib/forms.js';
import { mountLayout } from '../lib/layout.js';
import { register } from '../lib/session.js';

/** A new account (a shopper, and a seller if ticked), signed in at once; the guest cart merged. */
mountLayout();
const form = byId<HTMLFormElement>('register-form');
byId<HTMLAnchorElement>('signin-link').href = `/signin${location.search}`;

form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearProblems(form);
  const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
  const fields = {
    name: value('name').trim(),
    email: value('email').trim(),
    password: value('password'),
    seller: (form.elements.namedItem('seller') as HTMLInputElement).checked,
  };
  let missing = false;
  if (!fields.name) missing = fieldProblem(form, 'name', 'Enter your name.') || missing;
  if (!fields.email.includes('@')) {
    missing = fieldProblem(form, 'email', 'Enter an email address.') || missing;
  }
  if (fields.password.length < 10) {
    missing = fieldProblem(form, 'password', 'At least 10 characters.') || missing;
  }
  if (missing) {
    form.querySelector<HTMLElement>('.is-invalid')?.focus();
    return;
  }
  void busy(form, async () => {
    try {
      await register(fields);
      await mergeGuestCart().catch(() => undefined);
      location.assign(nextPath());
    } catch (error) {
      showProblem(form, error);
    }
  });
});
