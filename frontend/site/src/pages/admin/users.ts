import {
  listUsers,
  roles,
  updateUser,
  type AdminUser,
  type Role,
  type UserQuery,
} from '../../lib/admin-api.js';
import { adminPage, confirmAction, pagedList, problemToast, words } from '../../lib/admin-page.js';
import { byId, h } from '../../lib/dom.js';
import { dateTime } from '../../lib/format.js';
import { toast } from '../../lib/toast.js';

/**
 * `/admin/users`: search by name or email, role and state; each user's roles changed in place,
 * and disabled (after a confirmation: every sign-in of theirs ends) or enabled again.
 */
const search = byId<HTMLFormElement>('user-search');
const body = byId('users');
const admin = adminPage('/admin/users');

function filter(): UserQuery {
  const value = (name: string) => (search.elements.namedItem(name) as HTMLInputElement).value;
  const q = value('q').trim();
  const role = value('role') as Role | '';
  const disabled = value('disabled') as 'true' | 'false' | '';
  return {
    ...(q ? { q } : {}),
    ...(role ? { role } : {}),
    ...(disabled ? { disabled } : {}),
  };
}

function row(user: AdminUser): HTMLTableRowElement {
  const tr = h('tr', { 'data-user': user.id, 'data-roles': user.roles.join(' ') });
  const self = user.id === admin?.id;
  const boxes = roles.map((role) =>
    h('input', {
      class: 'form-check-input',
      type: 'checkbox',
      id: `role-${user.id}-${role}`,
      value: role,
      checked: user.roles.includes(role),
    }),
  );
  const save = h(
    'button',
    { class: 'btn btn-sm btn-outline-primary', type: 'submit', disabled: true },
    'Save roles',
    h('span', { class: 'visually-hidden' }, ` of ${user.name}`),
  );
  const chosen = () => boxes.filter((box) => box.checked).map((box) => box.value as Role);
  const rolesForm = h(
    'form',
    { class: 'd-flex flex-wrap align-items-center gap-2', novalidate: true },
    h(
      'fieldset',
      { class: 'd-flex flex-wrap gap-2' },
      h('legend', { class: 'visually-hidden' }, `Roles of ${user.name}`),
      ...roles.map((role, index) =>
        h(
          'div',
          { class: 'form-check form-check-inline me-1' },
          boxes[index],
          h('label', { class: 'form-check-label', for: `role-${user.id}-${role}` }, words(role)),
        ),
      ),
    ),
    save,
  );
  rolesForm.addEventListener('change', () => {
    const now = chosen();
    save.disabled = now.length === user.roles.length && now.every((r) => user.roles.includes(r));
  });
  rolesForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const wanted = chosen();
    if (wanted.length === 0) {
      toast('A user keeps at least one role.', 'error');
      return;
    }
    void change(tr, user, { roles: wanted }, `${user.name}’s roles saved.`);
  });

  const toggle = h(
    'button',
    {
      class: `btn btn-sm ${user.disabled ? 'btn-outline-success' : 'btn-outline-danger'}`,
      type: 'button',
      disabled: self,
      title: self ? 'You cannot disable yourself' : undefined,
    },
    user.disabled ? 'Enable' : 'Disable',
    h('span', { class: 'visually-hidden' }, ` ${user.name}`),
  );
  toggle.addEventListener('click', () => {
    void (async () => {
      if (!user.disabled) {
        const sure = await confirmAction({
          title: `Disable ${user.name}?`,
          body: `${user.email} will be signed out everywhere at once and cannot sign in until enabled again.`,
          confirm: 'Disable',
        });
        if (!sure) {
          toggle.focus();
          return;
        }
      }
      await change(
        tr,
        user,
        { disabled: !user.disabled },
        `${user.name} ${user.disabled ? 'enabled' : 'disabled'}.`,
      );
    })();
  });

  tr.append(
    h(
      'th',
      { scope: 'row' },
      user.name,
      self ? h('span', { class: 'badge text-bg-info ms-2' }, 'you') : null,
      h('div', { class: 'small text-body-secondary fw-normal text-break' }, user.email),
      h(
        'div',
        { class: 'small text-body-secondary fw-normal' },
        `Since ${dateTime(user.createdAt)}`,
      ),
    ),
    h('td', {}, rolesForm),
    h(
      'td',
      { 'data-state': user.disabled ? 'disabled' : 'active' },
      h(
        'span',
        { class: `badge ${user.disabled ? 'text-bg-danger' : 'text-bg-success'}` },
        user.disabled ? 'Disabled' : 'Active',
      ),
    ),
    h('td', { class: 'text-end' }, toggle),
  );
  return tr;
}

async function change(
  tr: HTMLTableRowElement,
  user: AdminUser,
  patch: { roles?: Role[]; disabled?: boolean },
  done: string,
): Promise<void> {
  tr.setAttribute('aria-busy', 'true');
  for (const control of tr.querySelectorAll<HTMLButtonElement | HTMLInputElement>(
    'button, input',
  )) {
    control.disabled = true;
  }
  try {
    const updated = await updateUser(user.id, patch);
    const fresh = row(updated);
    tr.replaceWith(fresh);
    toast(done, 'success');
    fresh
      .querySelector<HTMLElement>(patch.roles ? 'button[type="submit"]' : 'td:last-child button')
      ?.focus();
  } catch (error) {
    problemToast(error);
    tr.replaceWith(row(user));
  }
}

if (admin) {
  const list = pagedList({
    body,
    more: byId<HTMLButtonElement>('users-more'),
    status: byId('users-status'),
    columns: 4,
    load: (cursor) => listUsers({ ...filter(), ...(cursor ? { cursor } : {}), limit: 25 }),
    render: row,
    empty: 'No user matches.',
    counted: (shown, all) =>
      `${shown} user${shown === 1 ? '' : 's'} shown${all ? '' : ': more to load'}.`,
  });
  search.addEventListener('submit', (event) => {
    event.preventDefault();
    void list.reset();
  });
  void list.reset();
}
