import {
  createCategory,
  deleteCategory,
  updateCategory,
  type CategoryNode,
} from '../../lib/admin-api.js';
import {
  adminPage,
  confirmAction,
  itemButton,
  problemToast,
  spinner,
} from '../../lib/admin-page.js';
import { ApiError } from '../../lib/api.js';
import { categoryTree } from '../../lib/catalog-api.js';
import { byId, fill, h } from '../../lib/dom.js';
import { busy, clearProblems, fieldProblem, showProblem } from '../../lib/forms.js';
import { toast } from '../../lib/toast.js';

/**
 * `/admin/categories`: the category tree, a new category (at the top or inside another), each
 * renamed in place or deleted — the catalog refuses to delete one that still has products or
 * subcategories, and the page says so.
 */
const tree = byId('category-tree');
const form = byId<HTMLFormElement>('category-form');
const nameInput = byId<HTMLInputElement>('category-name');
const slugInput = byId<HTMLInputElement>('category-slug');
const parent = byId<HTMLSelectElement>('category-parent');
let slugTouched = false;

/** `Lámparas de pie` → `lamparas-de-pie`. */
function slugOf(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100);
}

function refusal(error: unknown, name: string): string {
  if (error instanceof ApiError && error.code === 'category_in_use') {
    return `“${name}” still has products or subcategories: move or delete them first.`;
  }
  return error instanceof ApiError ? error.message : 'Something went wrong.';
}

function node(category: CategoryNode, depth: number): HTMLLIElement {
  const item = h('li', { class: 'category-node', 'data-category': category.id });
  const label = h('span', { class: 'fw-semibold', 'data-name': category.id }, category.name);
  const problem = h('div', {
    class: 'small text-danger',
    role: 'alert',
    id: `category-problem-${category.id}`,
  });
  const rename = itemButton('Rename', category.name, 'btn-link');
  const remove = itemButton('Delete', category.name, 'btn-link link-danger');
  const add = itemButton('Add inside', category.name, 'btn-link');
  const line = h(
    'div',
    { class: 'd-flex flex-wrap align-items-center gap-1 py-1' },
    label,
    h('span', { class: 'small text-body-secondary font-monospace' }, category.slug),
    rename,
    add,
    remove,
  );
  item.append(line, problem);
  if (category.children.length > 0) {
    item.append(
      h(
        'ul',
        { class: 'list-unstyled ps-4 border-start' },
        ...category.children.map((child) => node(child, depth + 1)),
      ),
    );
  }

  rename.addEventListener('click', () => {
    const inputId = `rename-${category.id}`;
    const input = h('input', {
      class: 'form-control form-control-sm',
      id: inputId,
      name: 'name',
      value: category.name,
      maxlength: 100,
      required: true,
      autocomplete: 'off',
    });
    const cancel = h(
      'button',
      { class: 'btn btn-sm btn-outline-secondary', type: 'button' },
      'Cancel',
    );
    const editor = h(
      'form',
      { class: 'd-flex flex-wrap align-items-center gap-2 py-1 category-rename', novalidate: true },
      h('label', { class: 'visually-hidden', for: inputId }, `New name of ${category.name}`),
      input,
      h('button', { class: 'btn btn-sm btn-primary', type: 'submit' }, 'Save'),
      cancel,
    );
    cancel.addEventListener('click', () => {
      editor.replaceWith(line);
      rename.focus();
    });
    editor.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') cancel.click();
    });
    editor.addEventListener('submit', (event) => {
      event.preventDefault();
      clearProblems(editor);
      const name = input.value.trim();
      if (!name) {
        fieldProblem(editor, 'name', 'A name.');
        input.focus();
        return;
      }
      void busy(editor, async () => {
        try {
          await updateCategory(category.id, { name });
          toast(`“${category.name}” is now “${name}”.`, 'success');
          await load(category.id);
        } catch (error) {
          showProblem(editor, error);
        }
      });
    });
    line.replaceWith(editor);
    input.focus();
    input.select();
  });

  add.addEventListener('click', () => {
    parent.value = category.id;
    nameInput.focus();
  });

  remove.addEventListener('click', () => {
    void (async () => {
      problem.textContent = '';
      const sure = await confirmAction({
        title: `Delete “${category.name}”?`,
        body: 'Only an empty category can be deleted: no products, no subcategories.',
        confirm: 'Delete',
      });
      if (!sure) return remove.focus();
      remove.disabled = true;
      try {
        await deleteCategory(category.id);
        toast(`“${category.name}” deleted.`, 'success');
        await load();
      } catch (error) {
        remove.disabled = false;
        problem.textContent = refusal(error, category.name);
        remove.focus();
      }
    })();
  });
  return item;
}

function options(nodes: CategoryNode[], depth = 0): HTMLOptionElement[] {
  return nodes.flatMap((category) => [
    h('option', { value: category.id }, `${'— '.repeat(depth)}${category.name}`),
    ...options(category.children, depth + 1),
  ]);
}

async function load(focusId?: string): Promise<void> {
  tree.setAttribute('aria-busy', 'true');
  if (!tree.querySelector('ul')) fill(tree, spinner('Loading the categories…'));
  try {
    const { items } = await categoryTree();
    fill(
      tree,
      items.length === 0
        ? h('p', { class: 'text-body-secondary' }, 'No category yet.')
        : h(
            'ul',
            { class: 'list-unstyled', id: 'categories-root' },
            ...items.map((category) => node(category, 0)),
          ),
    );
    const chosen = parent.value;
    parent.replaceChildren(
      h('option', { value: '' }, 'Nothing: a top-level category'),
      ...options(items),
    );
    parent.value = [...parent.options].some((option) => option.value === chosen) ? chosen : '';
    if (focusId)
      tree.querySelector<HTMLElement>(`[data-category="${CSS.escape(focusId)}"] button`)?.focus();
  } catch (error) {
    if (!tree.querySelector('ul'))
      fill(tree, h('p', { class: 'text-danger' }, 'The categories could not be loaded.'));
    problemToast(error);
  } finally {
    tree.setAttribute('aria-busy', 'false');
  }
}

nameInput.addEventListener('input', () => {
  if (!slugTouched) slugInput.value = slugOf(nameInput.value);
});
slugInput.addEventListener('input', () => {
  slugTouched = slugInput.value !== '';
});

form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearProblems(form);
  const name = nameInput.value.trim();
  const slug = slugInput.value.trim();
  let problem = false;
  if (!name) problem = fieldProblem(form, 'name', 'A name.');
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(slug)) {
    problem =
      fieldProblem(form, 'slug', 'Lower-case letters and digits, words joined by hyphens.') ||
      problem;
  }
  if (problem) {
    form.querySelector<HTMLElement>('.is-invalid')?.focus();
    return;
  }
  void busy(form, async () => {
    try {
      const created = await createCategory({
        name,
        slug,
        ...(parent.value ? { parentId: parent.value } : {}),
      });
      toast(`“${created.name}” created.`, 'success');
      form.reset();
      slugTouched = false;
      await load();
      nameInput.focus();
    } catch (error) {
      showProblem(form, error);
    }
  });
});

if (adminPage('/admin/categories')) void load();
