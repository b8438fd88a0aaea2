import { h } from './dom.js';

/**
 * Messages that are not about one field: a Bootstrap toast in a polite live region, so a screen
 * reader says it too. It stays until closed when it is an error.
 */
function container(): HTMLElement {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', {
      id: 'toasts',
      class: 'toast-container position-fixed bottom-0 end-0 p-3',
      'aria-live': 'polite',
      'aria-atomic': 'false',
    });
    document.body.append(region);
  }
  return region;
}

export function toast(message: string, kind: 'error' | 'success' | 'info' = 'info'): void {
  const close = h('button', {
    type: 'button',
    class: 'btn-close btn-close-white me-2 m-auto',
    'aria-label': 'Close',
  });
  const item = h(
    'div',
    {
      class: `toast show align-items-center border-0 text-bg-${
        kind === 'error' ? 'danger' : kind === 'success' ? 'success' : 'dark'
      }`,
      role: kind === 'error' ? 'alert' : 'status',
    },
    h('div', { class: 'd-flex' }, h('div', { class: 'toast-body' }, message), close),
  );
  close.addEventListener('click', () => item.remove());
  container().append(item);
  if (kind !== 'error') setTimeout(() => item.remove(), 6_000);
}
