import { signInHere } from './account.js';
import { ApiError } from './api.js';
import { append, byId, fill, h } from './dom.js';
import { mountLayout } from './layout.js';
import { currentUser, onSessionChange, type SessionUser } from './session.js';
import { toast } from './toast.js';

/**
 * What every back-office page shares: the header, the admin's own navigation, and the door — a
 * signed-out visitor is sent to sign in (and comes back), anyone else who is not an admin is told
 * the page is not for them (the API would refuse them anyway). Signing out in another tab sends
 * this one to sign in too.
 */
export const adminSections = [
  ['/admin', 'Dashboard'],
  ['/admin/users', 'Users'],
  ['/admin/orders', 'Orders'],
  ['/admin/terminals', 'Terminals'],
  ['/admin/categories', 'Categories'],
  ['/admin/low-stock', 'Low stock'],
] as const;

/**
 * Mounts the page; returns the admin, or undefined when the visitor is not one (then the page's
 * `#admin-content` says so, or the browser is already on its way to sign in).
 */
export function adminPage(section: (typeof adminSections)[number][0]): SessionUser | undefined {
  mountLayout();
  const content = byId('admin-content');
  const user = currentUser();
  if (!user) {
    fill(content, spinner('Taking you to sign in…'));
    location.replace(signInHere());
    return undefined;
  }
  if (!user.roles.includes('admin')) {
    fill(
      content,
      h(
        'div',
        { class: 'alert alert-warning', role: 'alert', id: 'not-admin' },
        h('h2', { class: 'h5' }, 'This page is not for you'),
        h(
          'p',
          { class: 'mb-0' },
          'The back office is for the shop’s admins, and your account is not one. ',
          h('a', { class: 'alert-link', href: '/' }, 'Back to the shop'),
          '.',
        ),
      ),
    );
    return undefined;
  }
  onSessionChange((now) => {
    if (!now) location.replace(signInHere());
  });
  content.before(
    h(
      'nav',
      { class: 'admin-nav mb-4', 'aria-label': 'Back office' },
      h(
        'ul',
        { class: 'nav nav-pills flex-wrap gap-1' },
        ...adminSections.map(([href, label]) =>
          h(
            'li',
            { class: 'nav-item' },
            h(
              'a',
              {
                class: `nav-link${href === section ? ' active' : ''}`,
                href,
                'aria-current': href === section ? 'page' : undefined,
              },
              label,
            ),
          ),
        ),
      ),
    ),
  );
  return user;
}

/** A wait, said to screen readers too. */
export function spinner(label = 'Loading…'): HTMLElement {
  return h(
    'div',
    { class: 'd-flex align-items-center gap-2 text-body-secondary py-3', role: 'status' },
    h('span', { class: 'spinner-border spinner-border-sm', 'aria-hidden': 'true' }),
    h('span', {}, label),
  );
}

/**
 * A small button for one item of a list: `label` seen, `label subject` heard ("Delete" reads
 * "Delete Lámparas" to a screen reader, which lists every row's button out of context).
 */
export function itemButton(label: string, subject: string, classes: string): HTMLButtonElement {
  return h(
    'button',
    { class: `btn btn-sm ${classes}`, type: 'button' },
    label,
    h('span', { class: 'visually-hidden' }, ` ${subject}`),
  );
}

/** A table row that waits, spanning `columns`. */
export function spinnerRow(columns: number, label?: string): HTMLTableRowElement {
  return h('tr', {}, h('td', { colspan: columns }, spinner(label)));
}

/** What went wrong, as a toast (the API's own words, or a generic line). */
export function problemToast(error: unknown, fallback = 'Something went wrong.'): void {
  toast(error instanceof ApiError ? error.message : fallback, 'error');
}

/** A status or role as people read it: `partially_refunded` → "partially refunded". */
export const words = (code: string) => code.replaceAll('_', ' ');

const statusColours: Record<string, string> = {
  awaiting_payment: 'text-bg-warning',
  payment_failed: 'text-bg-danger',
  paid: 'text-bg-success',
  shipped: 'text-bg-info',
  delivered: 'text-bg-primary',
  partially_refunded: 'text-bg-secondary',
  refunded: 'text-bg-dark',
  cancelled: 'text-bg-light border',
  expired: 'text-bg-light border',
  online: 'text-bg-success',
  offline: 'text-bg-secondary',
  unknown: 'text-bg-light border',
  pending: 'text-bg-warning',
  succeeded: 'text-bg-success',
  failed: 'text-bg-danger',
  approved: 'text-bg-success',
  declined: 'text-bg-danger',
  reversed: 'text-bg-secondary',
};

export function statusBadge(status: string, attributes: Record<string, string> = {}): HTMLElement {
  return h(
    'span',
    { class: `badge ${statusColours[status] ?? 'text-bg-light border'}`, ...attributes },
    words(status),
  );
}

/**
 * Asks before something that cannot be taken back (a native modal dialog: focus stays in it,
 * Escape cancels); resolves whether it was confirmed.
 */
export function confirmAction(options: {
  title: string;
  body: string;
  confirm: string;
}): Promise<boolean> {
  const dialog = h('dialog', {
    class: 'admin-dialog',
    'aria-labelledby': 'confirm-title',
    'aria-describedby': 'confirm-body',
  });
  const yes = h(
    'button',
    { class: 'btn btn-danger', type: 'button', id: 'confirm-yes' },
    options.confirm,
  );
  const no = h(
    'button',
    { class: 'btn btn-outline-secondary', type: 'button', id: 'confirm-no' },
    'Cancel',
  );
  append(
    dialog,
    h('h2', { class: 'h5', id: 'confirm-title' }, options.title),
    h('p', { id: 'confirm-body' }, options.body),
    h('div', { class: 'd-flex justify-content-end gap-2' }, no, yes),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    const done = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    yes.addEventListener('click', () => done(true));
    no.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      done(false);
    });
    dialog.showModal();
    no.focus();
  });
}

/**
 * A list that grows by the API's cursor: `load(cursor)` gives a page, `render` its rows; the
 * "Load more" button shows while there is more. `reset()` starts again from the first page.
 */
export function pagedList<T>(options: {
  body: HTMLElement;
  more: HTMLButtonElement;
  status: HTMLElement;
  columns: number;
  load: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>;
  render: (item: T) => HTMLElement;
  empty: string;
  counted: (shown: number, all: boolean) => string;
}): { reset(): Promise<void> } {
  let cursor: string | null = null;
  let generation = 0;
  async function next(first: boolean): Promise<void> {
    const mine = first ? ++generation : generation;
    options.more.disabled = true;
    options.body.closest('table')?.setAttribute('aria-busy', 'true');
    const waiting = spinnerRow(options.columns);
    if (first) fill(options.body, waiting);
    else options.body.append(waiting);
    options.status.textContent = 'Loading…';
    try {
      const page = await options.load(first ? undefined : (cursor ?? undefined));
      if (mine !== generation) return;
      waiting.remove();
      options.body.append(...page.items.map(options.render));
      cursor = page.nextCursor;
      options.more.hidden = cursor === null;
      const shown = options.body.children.length;
      options.status.textContent = shown === 0 ? options.empty : options.counted(shown, !cursor);
    } catch (error) {
      if (mine !== generation) return;
      waiting.remove();
      options.status.textContent = 'This list could not be loaded.';
      problemToast(error, 'This list could not be loaded.');
    } finally {
      if (mine === generation) {
        options.more.disabled = false;
        options.body.closest('table')?.setAttribute('aria-busy', 'false');
      }
    }
  }
  options.more.addEventListener('click', () => void next(false));
  return { reset: () => next(true) };
}
