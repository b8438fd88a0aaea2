import {
  deleteTerminal,
  listTerminals,
  registerTerminal,
  rotateSecret,
  type Terminal,
  type TerminalCredentials,
  type TerminalTransaction,
} from '../../lib/admin-api.js';
import { followTerminalStatus, type LiveState } from '../../lib/admin-live.js';
import {
  adminPage,
  confirmAction,
  itemButton,
  problemToast,
  spinner,
  statusBadge,
  words,
} from '../../lib/admin-page.js';
import { byId, fill, h } from '../../lib/dom.js';
import { busy, clearProblems, fieldProblem, showProblem } from '../../lib/forms.js';
import { dateTime, money } from '../../lib/format.js';
import { toast } from '../../lib/toast.js';

/**
 * `/admin/terminals`: register a payment terminal (its secret shown this once, with the
 * mosquitto commands a terminal's firmware would run), rotate its secret, delete it; the list
 * with each terminal's presence — live, over MQTT, as the broker publishes it — its last
 * transactions and today's totals.
 */
const list = byId('terminals');
const status = byId('terminals-status');
const more = byId<HTMLButtonElement>('terminals-more');
const secretPanel = byId('terminal-secret');
const form = byId<HTMLFormElement>('terminal-form');
const liveBadge = byId('live-state');
/** The latest presence heard live, by terminal id: it wins over the list's older answer. */
const heard = new Map<string, { status: 'online' | 'offline'; since: string | null }>();
/** The presence each listed terminal had in the list's answer. */
const listed = new Map<string, Terminal['presence']>();
let cursor: string | null = null;

const liveLabels: Record<LiveState, [string, string]> = {
  connecting: ['Connecting…', 'text-bg-light border'],
  live: ['Live', 'text-bg-success'],
  reconnecting: ['Reconnecting…', 'text-bg-warning'],
  refused: ['Not live: presence refused', 'text-bg-danger'],
  closed: ['Not live', 'text-bg-secondary'],
};

function showLive(state: LiveState): void {
  const [label, colour] = liveLabels[state];
  liveBadge.className = `badge ${colour}`;
  liveBadge.dataset.state = state;
  liveBadge.textContent = label;
}

function presence(terminalId: string, status: string, since: string | null): HTMLElement {
  return h(
    'p',
    { class: 'mb-2', 'data-presence': terminalId },
    statusBadge(status, { 'data-status': status }),
    since
      ? h('span', { class: 'small text-body-secondary ms-2' }, `since ${dateTime(since)}`)
      : null,
  );
}

function copyButton(label: string, text: () => string): HTMLButtonElement {
  const button = h('button', { class: 'btn btn-sm btn-outline-dark', type: 'button' }, label);
  button.addEventListener('click', () => {
    navigator.clipboard.writeText(text()).then(
      () => toast('Copied.', 'success'),
      () => toast('The browser would not copy: select the text and copy it.', 'error'),
    );
  });
  return button;
}

/** The root README's "Paying at a terminal with mosquitto only", for this terminal. */
function mosquittoExample({ terminal, secret }: TerminalCredentials): string {
  const quoted = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  return [
    `T=${terminal.id}`,
    `TERMINAL_SECRET=${quoted(secret)}`,
    `MQ=(-h ${location.hostname} -p \${MQTT_PORT:-1883} -V mqttv311 -q 1 -i ${terminal.mqtt.clientId} -u ${terminal.mqtt.username} -P "$TERMINAL_SECRET")`,
    `mosquitto_pub "\${MQ[@]}" -r -t terminals/$T/status -m '{"type":"terminal.status","status":"online"}'`,
    `mosquitto_sub "\${MQ[@]}" -t terminals/$T/results -v \\`,
    `  --will-topic terminals/$T/status --will-retain --will-qos 1 \\`,
    `  --will-payload '{"type":"terminal.status","status":"offline"}'`,
  ].join('\n');
}

function showSecret(credentials: TerminalCredentials, rotated: boolean): void {
  const example = mosquittoExample(credentials);
  const dismiss = h(
    'button',
    { class: 'btn btn-sm btn-primary', type: 'button' },
    'I have stored it',
  );
  const panel = h(
    'section',
    {
      class: 'alert alert-warning',
      id: 'secret-panel',
      'aria-labelledby': 'secret-title',
      tabindex: -1,
    },
    h(
      'h2',
      { class: 'h5', id: 'secret-title' },
      `${rotated ? 'New secret' : 'Secret'} of ${credentials.terminal.name} (${credentials.terminal.id})`,
    ),
    h(
      'p',
      {},
      'Shown this once: the shop keeps only a hash of it. Store it in the terminal now; a lost secret can only be replaced.',
    ),
    h(
      'label',
      { class: 'form-label', for: 'secret-value' },
      'Secret (the terminal’s MQTT password)',
    ),
    h(
      'div',
      { class: 'input-group mb-3' },
      h('input', {
        class: 'form-control font-monospace',
        id: 'secret-value',
        readonly: true,
        value: credentials.secret,
      }),
      copyButton('Copy secret', () => credentials.secret),
    ),
    h(
      'p',
      { class: 'mb-1' },
      `It connects as username ${credentials.terminal.mqtt.username}, client id ${credentials.terminal.mqtt.clientId}. With Debian's mosquitto clients:`,
    ),
    h(
      'pre',
      { class: 'bg-body p-2 border rounded small', id: 'mosquitto-example' },
      h('code', {}, example),
    ),
    h(
      'div',
      { class: 'd-flex gap-2' },
      copyButton('Copy commands', () => example),
      dismiss,
    ),
  );
  dismiss.addEventListener('click', () => {
    panel.remove();
    byId('terminal-name').focus();
  });
  fill(secretPanel, panel);
  panel.focus();
}

/** A heading and its short list (or a line saying there is nothing). */
function facts(
  heading: string,
  empty: string,
  marker: string,
  terminalId: string,
  items: HTMLLIElement[],
): HTMLElement[] {
  return [
    h('h4', { class: 'h6 mt-3' }, heading),
    items.length === 0
      ? h('p', { class: 'small text-body-secondary' }, empty)
      : h('ul', { class: 'list-unstyled small', [marker]: terminalId }, ...items),
  ];
}

function todayLine(total: Terminal['today'][number]): HTMLLIElement {
  const amount = (minor: number) => money(minor, total.currency);
  return h(
    'li',
    {},
    h('strong', {}, amount(total.netMinor)),
    ` net: ${total.approvedCount} approved (${amount(total.approvedMinor)}), `,
    `${total.declinedCount} declined, ${total.reversedCount} reversed (${amount(total.reversedMinor)})`,
  );
}

function transactionLine(transaction: TerminalTransaction): HTMLLIElement {
  return h(
    'li',
    {},
    statusBadge(transaction.outcome),
    ' ',
    money(transaction.amountMinor, transaction.currency),
    transaction.cardLast4
      ? `, ${transaction.cardBrand ?? 'card'} •••• ${transaction.cardLast4}`
      : '',
    transaction.reason ? ` (${words(transaction.reason)})` : '',
    h('span', { class: 'text-body-secondary' }, ` · ${dateTime(transaction.at)}`),
  );
}

function card(terminal: Terminal): HTMLElement {
  listed.set(terminal.id, terminal.presence);
  const live = heard.get(terminal.id);
  const rotate = itemButton('New secret', `for ${terminal.name}`, 'btn-outline-dark');
  const remove = itemButton('Delete', terminal.name, 'btn-outline-danger');
  const element = h(
    'div',
    { class: 'col' },
    h(
      'article',
      {
        class: 'card h-100',
        'data-terminal': terminal.id,
        'aria-labelledby': `terminal-${terminal.id}`,
      },
      h(
        'div',
        { class: 'card-body' },
        h('h3', { class: 'h6 card-title mb-1', id: `terminal-${terminal.id}` }, terminal.name),
        h(
          'p',
          { class: 'small text-body-secondary mb-2' },
          h('span', { class: 'font-monospace' }, terminal.id),
          terminal.location ? ` · ${terminal.location}` : '',
        ),
        live
          ? presence(terminal.id, live.status, live.since)
          : presence(terminal.id, terminal.presence.status, terminal.presence.since),
        ...facts(
          'Today',
          'Nothing yet today.',
          'data-today',
          terminal.id,
          terminal.today.map(todayLine),
        ),
        ...facts(
          'Last transactions',
          'None yet.',
          'data-transactions',
          terminal.id,
          terminal.lastTransactions.map(transactionLine),
        ),
      ),
      h('div', { class: 'card-footer d-flex gap-2 justify-content-end' }, rotate, remove),
    ),
  );
  rotate.addEventListener('click', () => {
    void (async () => {
      const sure = await confirmAction({
        title: `A new secret for ${terminal.name}?`,
        body: 'The current secret stops working at once: the terminal is disconnected until it is given the new one.',
        confirm: 'Make a new secret',
      });
      if (!sure) return rotate.focus();
      rotate.disabled = true;
      try {
        const credentials = await rotateSecret(terminal.id);
        showSecret(credentials, true);
        element.replaceWith(card(credentials.terminal));
      } catch (error) {
        rotate.disabled = false;
        problemToast(error);
      }
    })();
  });
  remove.addEventListener('click', () => {
    void (async () => {
      const sure = await confirmAction({
        title: `Delete ${terminal.name}?`,
        body: `It is disconnected at once, and its id (${terminal.id}) can never be used again.`,
        confirm: 'Delete',
      });
      if (!sure) return remove.focus();
      remove.disabled = true;
      try {
        await deleteTerminal(terminal.id);
        element.remove();
        toast(`${terminal.name} deleted.`, 'success');
        countShown();
      } catch (error) {
        remove.disabled = false;
        problemToast(error);
      }
    })();
  });
  return element;
}

function countShown(): void {
  const shown = list.querySelectorAll('[data-terminal]').length;
  status.textContent =
    shown === 0
      ? 'No terminal yet.'
      : `${shown} terminal${shown === 1 ? '' : 's'}${cursor ? ': more to load' : ''}.`;
}

async function load(first: boolean): Promise<void> {
  more.disabled = true;
  list.setAttribute('aria-busy', 'true');
  const waiting = h('div', { class: 'col' }, spinner('Loading terminals…'));
  if (first) fill(list, waiting);
  else list.append(waiting);
  try {
    const page = await listTerminals(first ? undefined : (cursor ?? undefined));
    waiting.remove();
    list.append(...page.items.map(card));
    cursor = page.nextCursor;
    more.hidden = cursor === null;
    countShown();
  } catch (error) {
    waiting.remove();
    status.textContent = 'The terminals could not be loaded.';
    problemToast(error);
  } finally {
    more.disabled = false;
    list.setAttribute('aria-busy', 'false');
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearProblems(form);
  const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
  const fields = { name: value('name'), id: value('id'), location: value('location') };
  if (!fields.name) {
    fieldProblem(form, 'name', 'Name the terminal (the till, the shop).');
    byId('terminal-name').focus();
    return;
  }
  if (fields.id && !/^[a-z0-9][a-z0-9-]{2,63}$/.test(fields.id)) {
    fieldProblem(
      form,
      'id',
      '3 to 64 lower-case letters, digits or hyphens, not starting with a hyphen.',
    );
    byId('terminal-id').focus();
    return;
  }
  void busy(form, async () => {
    try {
      const credentials = await registerTerminal({
        name: fields.name,
        ...(fields.id ? { id: fields.id } : {}),
        ...(fields.location ? { location: fields.location } : {}),
      });
      form.reset();
      list.prepend(card(credentials.terminal));
      countShown();
      showSecret(credentials, false);
    } catch (error) {
      showProblem(form, error);
    }
  });
});

more.addEventListener('click', () => void load(false));

if (adminPage('/admin/terminals')) {
  void load(true);
  followTerminalStatus({
    state: showLive,
    status(event) {
      // A retained status without a time of its own: when it began is what the list knew, if
      // it says the same; heard live, it began now.
      const before = listed.get(event.terminalId);
      const since =
        event.at ??
        (event.retained
          ? before?.status === event.status
            ? before.since
            : null
          : new Date().toISOString());
      heard.set(event.terminalId, { status: event.status, since });
      list
        .querySelector(`[data-presence="${CSS.escape(event.terminalId)}"]`)
        ?.replaceWith(presence(event.terminalId, event.status, since));
    },
  });
} else {
  liveBadge.remove();
}
