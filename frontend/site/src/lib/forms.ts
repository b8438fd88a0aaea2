import { ApiError } from './api.js';
import { toast } from './toast.js';

/**
 * A form's problems where the shopper looks: each next to its field (Bootstrap's `is-invalid` and
 * the field's `invalid-feedback`, tied by `aria-describedby`), the rest as a toast. The field is
 * found by `name` from the API's error path (`shippingAddress.city` → `city`, or the full path).
 */
export function clearProblems(form: HTMLFormElement): void {
  for (const field of form.querySelectorAll('.is-invalid')) field.classList.remove('is-invalid');
  for (const feedback of form.querySelectorAll<HTMLElement>('.invalid-feedback[data-for]')) {
    feedback.textContent = '';
  }
}

export function fieldProblem(form: HTMLFormElement, name: string, message: string): boolean {
  const field =
    form.querySelector<HTMLInputElement>(`[name="${CSS.escape(name)}"]`) ??
    form.querySelector<HTMLInputElement>(`[name="${CSS.escape(name.split('.').pop() ?? name)}"]`);
  if (!field) return false;
  field.classList.add('is-invalid');
  let feedback = form.querySelector<HTMLElement>(`.invalid-feedback[data-for="${field.id}"]`);
  if (!feedback) {
    feedback = document.createElement('div');
    feedback.className = 'invalid-feedback';
    feedback.dataset.for = field.id;
    feedback.id = `${field.id}-problem`;
    field.insertAdjacentElement('afterend', feedback);
  }
  feedback.textContent = message;
  field.setAttribute('aria-describedby', feedback.id);
  return true;
}

/** Shows what went wrong; focuses the first field at fault. */
export function showProblem(form: HTMLFormElement, error: unknown): void {
  clearProblems(form);
  if (!(error instanceof ApiError)) {
    toast('Something went wrong. Please try again.', 'error');
    return;
  }
  const placed = error.errors.filter((problem) =>
    fieldProblem(form, problem.path, problem.message),
  );
  if (placed.length > 0) {
    form.querySelector<HTMLElement>('.is-invalid')?.focus();
    if (placed.length === error.errors.length) return;
  }
  toast(error.message, 'error');
}

/** Disables the submit button (with a spinner) while `work` runs. */
export async function busy<T>(form: HTMLFormElement, work: () => Promise<T>): Promise<T> {
  const button = form.querySelector<HTMLButtonElement>('[type="submit"]');
  const spinner = document.createElement('span');
  spinner.className = 'spinner-border spinner-border-sm me-2';
  spinner.setAttribute('aria-hidden', 'true');
  if (button) {
    button.disabled = true;
    button.prepend(spinner);
  }
  form.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    form.setAttribute('aria-busy', 'false');
    spinner.remove();
    if (button) button.disabled = false;
  }
}
