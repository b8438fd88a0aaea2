import { statusColors, statusLabels } from './orders-api.js';
import { signInHere } from './account.js';
import { ApiError } from './api.js';
import { categoryTree, type CategoryNode } from './catalog-api.js';
import { fill, h } from './dom.js';
import { clearProblems, fieldProblem } from './forms.js';
import { currentUser, type SessionUser } from './session.js';
import { toast } from './toast.js';

/**
 * What the seller's back office pages share: the sign-in and role check, the section's tabs, the
 * order status badges, API problems placed by field, and buttons that show their wait.
 */

/**
 * The signed-in seller; undefined (the page told why) for a guest, who is sent to sign in, or for
 * an account that does not sell.
 */
export function requireSeller(root: HTMLElement): SessionUser | undefined {
  const user = currentUser();
  if (!user) {
    location.replace(signInHere());
    return undefined;
  }
  if (!user.roles.includes('seller')) {
    fill(
      root,
      h(
        'div',
        { class: 'alert alert-info', role: 'status' },
        'This page is for sellers. Your account does not sell in this shop.',
      ),
    );
    root.setAttribute('aria-busy', 'false');
    return undefined;
  }
  return user;
}

const sections = [
  ['/seller', 'My products'],
  ['/seller/orders', 'Orders'],
] as const;

/** The back office's tabs, the current one marked. */
export function sellerNav(current: (typeof sections)[number][0]): HTMLElement {
  return h(
    'nav',
    { 'aria-label': 'Back office', class: 'mb-4' },
    h(
      'ul',
      { class: 'nav nav-tabs' },
      ...sections.map(([href, text]) =>
        h(
          'li',
          { class: 'nav-item' },
          h(
            'a',
            {
              class: `nav-link${href === current ? ' active' : ''}`,
              href,
              'aria-current': href === current ? 'page' : undefined,
            },
            text,
          ),
        ),
      ),
    ),
  );
}

/** The order statuses' names (for a filter's options). */
export const orderStatusNames = statusLabels;

/** An order's status as a badge; `data-status` carries the API's code. */
export function statusBadge(status: string): HTMLElement {
  return h(
    'span',
    { class: `badge text-bg-${statusColors[status] ?? 'secondary'}`, 'data-status': status },
    statusLabels[status] ?? status,
  );
}

/** A spinner for a wait, announced by its label. */
export function spinner(label: string): HTMLElement {
  return h(
    'div',
    { class: 'd-flex align-items-center gap-2 text-body-secondary py-3', role: 'status' },
    h('span', { class: 'spinner-border spinner-border-sm', 'aria-hidden': 'true' }),
    label,
  );
}

/**
 * Shows an API refusal on the form: each field problem next to its field (`body.imageUrls.1` is the
 * field named `imageUrls.1`), a code that concerns one field (`codeFields`) next to it, and the
 * rest as a toast. The first field at fault takes the focus.
 */
export function placeProblems(
  form: HTMLFormElement,
  error: unknown,
  codeFields: Record<string, string> = {},
): void {
  clearProblems(form);
  if (!(error instanceof ApiError)) {
    toast('Something went wrong. Please try again.', 'error');
    return;
  }
  const codeField = codeFields[error.code];
  const problems =
    codeField && error.errors.length === 0
      ? [{ path: codeField, message: error.message }]
      : error.errors;
  const unplaced = problems.filter(
    (problem) => !fieldProblem(form, problem.path.replace(/^(body|query)\./, ''), problem.message),
  );
  form.querySelector<HTMLElement>('.is-invalid')?.focus();
  if (problems.length === 0 || unplaced.length > 0) toast(error.message, 'error');
}

/** Runs `work` with the button disabled and spinning; an API error becomes a toast. */
export async function withButton<T>(
  button: HTMLButtonElement,
  work: () => Promise<T>,
): Promise<T | undefined> {
  const wait = h('span', { class: 'spinner-border spinner-border-sm me-1', 'aria-hidden': 'true' });
  button.disabled = true;
  button.prepend(wait);
  try {
    return await work();
  } catch (error) {
    toast(error instanceof ApiError ? error.message : 'Something went wrong.', 'error');
    return undefined;
  } finally {
    wait.remove();
    button.disabled = false;
  }
}

/** The category tree as a flat list of `[id, "Parent › Child"]`, in the tree's order. */
export async function categoryChoices(): Promise<Array<[string, string]>> {
  const { items } = await categoryTree();
  const flat: Array<[string, string]> = [];
  const walk = (nodes: CategoryNode[], path: string[]) => {
    for (const node of nodes) {
      flat.push([node.id, [...path, node.name].join(' › ')]);
      walk(node.children, [...path, node.name]);
    }
  };
  walk(items, []);
  return flat;
}
