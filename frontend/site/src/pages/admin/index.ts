import { adminPage } from '../../lib/admin-page.js';
import { byId, fill, h } from '../../lib/dom.js';

/** `/admin`: the back office's sections, one card each. */
const sections: Array<[href: string, title: string, what: string]> = [
  ['/admin/users', 'Users', 'Find accounts, change their roles, disable or enable them.'],
  ['/admin/orders', 'Orders', 'Every order by status, its detail, and refunds in full or in part.'],
  [
    '/admin/terminals',
    'Terminals',
    'Register payment terminals, see them online live, their last transactions and today’s totals.',
  ],
  ['/admin/categories', 'Categories', 'The category tree: create, rename, delete.'],
  ['/admin/low-stock', 'Low stock', 'Products below their threshold, across every seller.'],
];

if (adminPage('/admin')) {
  fill(
    byId('admin-content'),
    h(
      'div',
      { class: 'row row-cols-1 row-cols-md-2 row-cols-lg-3 g-3', id: 'admin-sections' },
      ...sections.map(([href, title, what]) =>
        h(
          'div',
          { class: 'col' },
          h(
            'section',
            { class: 'card h-100 shadow-sm' },
            h(
              'div',
              { class: 'card-body' },
              h('h2', { class: 'h5 card-title' }, h('a', { class: 'stretched-link', href }, title)),
              h('p', { class: 'card-text text-body-secondary mb-0' }, what),
            ),
          ),
        ),
      ),
    ),
  );
}
