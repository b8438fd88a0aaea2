import t from 'tap';
import {
  checkPublish,
  checkTopicFilter,
  checkTopicName,
  matchTopic,
  mayPublish,
  maySubscribe,
  parsePayload,
  parseSharedFilter,
  topics,
  type Principal,
  type TopicKey,
} from '@mercado/common/contract';

const principals = {
  browser: { kind: 'browser', userId: 'u1', roles: ['customer', 'seller'] },
  admin: { kind: 'browser', userId: 'u3', roles: ['admin'] },
  terminal: { kind: 'terminal', terminalId: 't1' },
  users: { kind: 'service', service: 'users' },
  products: { kind: 'service', service: 'products' },
  inventory: { kind: 'service', service: 'inventory' },
  orders: { kind: 'service', service: 'orders' },
  payments: { kind: 'service', service: 'payments' },
  gateway: { kind: 'service', service: 'gateway' },
} satisfies Record<string, Principal>;
type PrincipalName = keyof typeof principals;
const columns = Object.keys(principals) as PrincipalName[];
const everyone = Object.values(principals);

/**
 * Who may publish (P) and subscribe (S) each concrete topic, written out by hand from the contract
 * table: the browser is user u1 (a customer and seller), the admin's browser user u3, the terminal
 * is t1; t2 and u2 are someone else.
 */
// prettier-ignore
const matrix: [topic: string, ...cells: string[]][] = [
  //                        browser admin terminal users products inventory orders payments gateway
  ['payments/intents',        '-',   '-',   '-',     '-',  '-',     '-',      'P',   'S',     '-'],
  ['payments/requests',       '-',   '-',   '-',     '-',  '-',     '-',      '-',   'S',     'P'],
  ['payments/results/o1',     '-',   '-',   '-',     '-',  '-',     '-',      'S',   'P',     'S'],
  ['payments/refunds',        '-',   '-',   '-',     '-',  '-',     '-',      'P',   'S',     '-'],
  ['payments/keys',           '-',   '-',   'S',     '-',  '-',     '-',      '-',   'P',     'S'],
  ['payments/status-requests','-',   '-',   '-',     '-',  '-',     '-',      'P',   'S',     '-'],
  ['payments/status/o1',      '-',   '-',   '-',     '-',  '-',     '-',      'S',   'P',     '-'],
  ['payments/terminal-transactions', '-',   '-', '-', 'S', '-',     '-',      '-',   'P',     '-'],
  ['terminals/t1/requests',   '-',   '-',   'P',     '-',  '-',     '-',      '-',   'S',     '-'],
  ['terminals/t2/requests',   '-',   '-',   '-',     '-',  '-',     '-',      '-',   'S',     '-'],
  ['terminals/t1/results',    '-',   '-',   'S',     '-',  '-',     '-',      '-',   'P',     '-'],
  ['terminals/t2/results',    '-',   '-',   '-',     '-',  '-',     '-',      '-',   'P',     '-'],
  ['terminals/t1/status',     '-',   'S',   'P',     'S',  '-',     '-',      '-',   'S',     'S'],
  ['terminals/t2/status',     '-',   'S',   '-',     'S',  '-',     '-',      '-',   'S',     'S'],
  ['orders/u1/o1/status',     'S',   '-',   '-',     '-',  '-',     '-',      'P',   '-',     'S'],
  ['orders/u2/o1/status',     '-',   '-',   '-',     '-',  '-',     '-',      'P',   '-',     'S'],
  ['inventory/low-stock',     '-',   '-',   '-',     '-',  'S',     'P',      'S',   '-',     'S'],
  ['users/revocations',       '-',   '-',   '-',     'P',  '-',     '-',      '-',   '-',     'S'],
];

t.test('the authorization matrix covers every contract topic', async (t) => {
  const covered = new Set(matrix.map(([topic]) => matchTopic(topic)?.name));
  t.strictSame([...covered].sort(), Object.keys(topics).sort());
});

t.test('each principal may publish and subscribe exactly the cells of the matrix', async (t) => {
  for (const [topic, ...cells] of matrix) {
    for (const [index, name] of columns.entries()) {
      const cell = cells[index] ?? '';
      const principal = principals[name];
      t.equal(mayPublish(principal, topic), cell.includes('P'), `${name} publishes ${topic}`);
      t.equal(maySubscribe(principal, topic), cell.includes('S'), `${name} subscribes ${topic}`);
    }
  }
});

t.test('a retained publish is allowed only on the retained topics (presence, keys)', async (t) => {
  t.ok(mayPublish(principals.terminal, 'terminals/t1/status', { retain: true }));
  t.ok(mayPublish(principals.terminal, 'terminals/t1/status', { retain: false }));
  t.notOk(
    mayPublish(principals.gateway, 'payments/requests', { retain: true }),
    'no card stays on the broker',
  );
  t.notOk(mayPublish(principals.orders, 'payments/intents', { retain: true }));
  t.notOk(mayPublish(principals.terminal, 'terminals/t1/requests', { retain: true }));
  t.ok(mayPublish(principals.gateway, 'payments/requests', { retain: false }));
  t.ok(mayPublish(principals.payments, 'payments/keys', { retain: true }));
  t.notOk(mayPublish(principals.orders, 'payments/refunds', { retain: true }));
});

t.test('every topic publishes at QoS 1 and only presence and keys are retained', async (t) => {
  const shape = Object.fromEntries(
    Object.entries(topics).map(([key, spec]) => [
      key,
      [spec.name, spec.pattern, spec.qos, spec.retain],
    ]),
  );
  t.strictSame(shape, {
    paymentIntents: ['paymentIntents', 'payments/intents', 1, false],
    paymentRequests: ['paymentRequests', 'payments/requests', 1, false],
    paymentResults: ['paymentResults', 'payments/results/{orderId}', 1, false],
    refundRequests: ['refundRequests', 'payments/refunds', 1, false],
    paymentStatusRequests: ['paymentStatusRequests', 'payments/status-requests', 1, false],
    paymentStatus: ['paymentStatus', 'payments/status/{orderId}', 1, false],
    terminalTransactions: ['terminalTransactions', 'payments/terminal-transactions', 1, false],
    paymentKeys: ['paymentKeys', 'payments/keys', 1, true],
    terminalRequests: ['terminalRequests', 'terminals/{terminalId}/requests', 1, false],
    terminalResults: ['terminalResults', 'terminals/{terminalId}/results', 1, false],
    terminalStatus: ['terminalStatus', 'terminals/{terminalId}/status', 1, true],
    orderStatus: ['orderStatus', 'orders/{userId}/{orderId}/status', 1, false],
    lowStock: ['lowStock', 'inventory/low-stock', 1, false],
    revocations: ['revocations', 'users/revocations', 1, false],
  });
});

t.test(
  'publishing is refused outside the contract, on $ topics and on malformed names',
  async (t) => {
    for (const principal of everyone) {
      for (const topic of ['$SYS/broker/uptime', '$share/g/payments/intents', 'foo/bar', '', '#']) {
        t.notOk(mayPublish(principal, topic), `${JSON.stringify(principal)} publishes ${topic}`);
      }
    }
    t.notOk(mayPublish(principals.orders, 'orders/u1/+/status'), 'a wildcard is no topic name');
    t.notOk(mayPublish(principals.orders, 'orders/u1/o1/status/extra'));
    t.notOk(mayPublish(principals.orders, '/payments/intents'));
    t.notOk(mayPublish(principals.orders, 'payments/intents/'));
    t.notOk(mayPublish(principals.payments, 'payments/results/'), 'an empty level is no order id');
    t.notOk(mayPublish(principals.payments, 'payments/results/o1\u0000'));
    t.notOk(mayPublish(principals.terminal, 'Terminals/t1/requests'), 'topics are case-sensitive');
  },
);

t.test('a role rule admits browsers whose token carries the role, for reading only', async (t) => {
  const noRoles: Principal = { kind: 'browser', userId: 'u4' };
  const adminTerminal: Principal = { kind: 'terminal', terminalId: 'admin' };
  t.notOk(maySubscribe(noRoles, 'terminals/+/status'), 'a browser whose token has no roles');
  t.notOk(maySubscribe(adminTerminal, 'terminals/+/status'), 'a terminal named admin');
  for (const topic of ['terminals/t1/status', 'terminals/u3/status']) {
    t.notOk(mayPublish(principals.admin, topic), `the admin publishes ${topic}: refused`);
    t.notOk(mayPublish(principals.admin, topic, { retain: true }), '… retained or not');
  }
});

t.test('an own-id rule is about the principal kind, not only the id', async (t) => {
  const browserNamedT1: Principal = { kind: 'browser', userId: 't1' };
  const terminalNamedU1: Principal = { kind: 'terminal', terminalId: 'u1' };
  t.notOk(mayPublish(browserNamedT1, 'terminals/t1/requests'));
  t.notOk(maySubscribe(browserNamedT1, 'terminals/t1/results'));
  t.notOk(maySubscribe(terminalNamedU1, 'orders/u1/+/status'));
  t.notOk(maySubscribe(terminalNamedU1, 'orders/u1/o1/status'));
});

t.test('a principal whose id is a wildcard or empty gets nothing by it', async (t) => {
  for (const userId of ['+', '#', '']) {
    const browser: Principal = { kind: 'browser', userId };
    for (const filter of ['orders/+/+/status', 'orders/#', 'orders//o1/status', '#']) {
      t.notOk(maySubscribe(browser, filter), `user ${JSON.stringify(userId)} subscribes ${filter}`);
    }
  }
  for (const terminalId of ['+', '']) {
    const terminal: Principal = { kind: 'terminal', terminalId };
    t.notOk(maySubscribe(terminal, 'terminals/+/results'));
    t.notOk(mayPublish(terminal, 'terminals//requests'));
  }
});

/** Subscription filters with wildcards: principal → filter → allowed. */
// prettier-ignore
const wildcardCases: [PrincipalName, string, boolean][] = [
  ['browser', 'orders/u1/+/status', true],
  ['browser', 'orders/u1/#', true],
  ['browser', 'orders/u1/o9/status', true],
  // `#` also matches its parent level (MQTT-4.7.1-2): this reaches orders/u1/o9/status only.
  ['browser', 'orders/u1/o9/status/#', true],
  // Among contract topics only orders/{userId}/{orderId}/status has four levels.
  ['browser', '+/u1/+/status', true],
  ['browser', '$share/g/orders/u1/#', true],
  ['browser', 'orders/+/#', false],
  ['browser', 'orders/u2/#', false],
  ['browser', 'orders/+/+/status', false],
  ['browser', 'orders/#', false],
  ['browser', '+/+/+/status', false],
  ['browser', '$share/g/orders/u2/#', false],
  ['browser', 'orders/u1', false],
  ['browser', 'orders/u1/+', false],
  ['browser', 'orders//o9/status', false],
  ['terminal', 'terminals/t1/results', true],
  // Reaches terminals/t1/results and nothing else.
  ['terminal', '+/t1/results', true],
  ['terminal', 'terminals/t1/#', false],
  ['terminal', 'terminals/t1/+', false],
  ['terminal', 'terminals/+/results', false],
  ['terminal', 'terminals/t2/results', false],
  ['terminal', 'terminals/t1/status', false],
  ['payments', 'payments/requests', true],
  ['payments', 'payments/intents', true],
  // payments/+ reaches payments/keys too, which payments publishes and nobody but the gateway reads.
  ['payments', 'payments/+', false],
  ['payments', 'terminals/+/requests', true],
  ['payments', 'terminals/+/status', true],
  ['payments', '$share/payments/payments/requests', true],
  ['payments', '$share/payments-1/terminals/+/requests', true],
  ['payments', 'payments/#', false],
  ['payments', 'terminals/#', false],
  ['payments', 'terminals/+/+', false],
  ['payments', 'terminals/+/results', false],
  ['orders', 'payments/results/+', true],
  ['orders', 'payments/results/#', true],
  ['orders', 'inventory/low-stock', true],
  ['orders', 'payments/requests', false],
  ['orders', 'payments/+', false],
  ['orders', 'payments/#', false],
  ['orders', 'orders/+/+/status', false],
  ['orders', '$share/orders/payments/requests', false],
  ['gateway', 'orders/+/+/status', true],
  ['gateway', 'orders/#', true],
  ['gateway', 'payments/results/+', true],
  ['gateway', 'terminals/+/status', true],
  ['gateway', 'inventory/#', true],
  ['gateway', 'terminals/+/results', false],
  ['gateway', 'payments/requests', false],
  ['gateway', 'foo/bar', false],
  ['gateway', 'foo/#', false],
  ['gateway', 'orders/#/status', false],
  ['products', 'inventory/low-stock', true],
  ['users', 'inventory/low-stock', false],
  ['users', 'inventory/#', false],
  ['users', 'terminals/+/status', true],
  ['users', 'terminals/+/requests', false],
  ['users', 'terminals/+/+', false],
  ['gateway', 'users/#', true],
  ['gateway', 'users/+', true],
  ['users', 'users/revocations', false],
  ['payments', 'users/revocations', false],
  ['products', '+/revocations', false],
  // An admin's browser reads every terminal's presence, and nothing else of terminals or orders.
  ['admin', 'terminals/+/status', true],
  ['admin', 'terminals/t9/status', true],
  // It reaches payments/status/{orderId} too (an order id "status"): refused.
  ['admin', '+/+/status', false],
  ['admin', 'terminals/+/+', false],
  ['admin', 'terminals/#', false],
  ['admin', 'terminals/+/results', false],
  ['admin', 'orders/+/+/status', false],
  ['admin', 'orders/u1/#', false],
  ['browser', 'terminals/+/status', false],
  ['browser', '+/+/status', false],
];

t.test(
  'wildcard filters are allowed only when every topic they reach admits the subscriber',
  async (t) => {
    for (const [name, filter, allowed] of wildcardCases) {
      t.equal(maySubscribe(principals[name], filter), allowed, `${name} subscribes ${filter}`);
    }
  },
);

t.test('nobody may subscribe to everything, to $ topics or to malformed filters', async (t) => {
  const filters = [
    '#',
    '+/#',
    '+',
    '+/+',
    '+/+/+',
    '$SYS/#',
    '$SYS/broker/uptime',
    '$share/g/#',
    '$share/g/$SYS/#',
    '$share/g/$share/h/payments/requests',
    '$share//x',
    '$share/g/',
    '$share/g+/x',
    '$share',
    '',
    'a/#/b',
    'a/b#',
    'a+/b',
    'orders/u1/\u0000/status',
  ];
  for (const [name, principal] of Object.entries(principals)) {
    for (const filter of filters) {
      t.notOk(maySubscribe(principal, filter), `${name} subscribes ${JSON.stringify(filter)}`);
    }
  }
});

t.test('topic names and filters are checked against MQTT and Mercado limits', async (t) => {
  const level128 = 'a'.repeat(128);
  // prettier-ignore
  const cases: [topic: string, asName: string | undefined, asFilter: string | undefined][] = [
    ['payments/intents', undefined, undefined],
    ['/', undefined, undefined],
    ['', 'empty', 'empty'],
    ['a/\u0000b', 'null_character', 'null_character'],
    ['a/b\nc', 'control_character', 'control_character'],
    ['a/\u009b', 'control_character', 'control_character'],
    ['a/\ud800', 'malformed_utf8', 'malformed_utf8'],
    ['a/\udc00b', 'malformed_utf8', 'malformed_utf8'],
    ['a/\ud83d\ude00', undefined, undefined],
    ['a/\ud83d\ude00\ud800', 'malformed_utf8', 'malformed_utf8'],
    ['a/\u{1F600}', undefined, undefined],
    [level128, undefined, undefined],
    ['a'.repeat(129), 'level_too_long', 'level_too_long'],
    // 43 characters, 129 bytes: limits count UTF-8 bytes (MQTT-1.5.3).
    [`x/${'€'.repeat(43)}`, 'level_too_long', 'level_too_long'],
    [`${'a'.repeat(127)}/${level128}`, undefined, undefined],
    [`${level128}/${level128}`, 'too_long', 'too_long'],
    ['#', 'wildcard_in_name', undefined],
    ['+', 'wildcard_in_name', undefined],
    ['a/+/b/#', 'wildcard_in_name', undefined],
    ['a/#/b', 'wildcard_in_name', 'misplaced_multi_level_wildcard'],
    ['#/', 'wildcard_in_name', 'misplaced_multi_level_wildcard'],
    ['a/b#', 'wildcard_in_name', 'misplaced_multi_level_wildcard'],
    ['a+/b', 'wildcard_in_name', 'misplaced_single_level_wildcard'],
    ['a/+b', 'wildcard_in_name', 'misplaced_single_level_wildcard'],
    ['a/++', 'wildcard_in_name', 'misplaced_single_level_wildcard'],
  ];
  for (const [topic, asName, asFilter] of cases) {
    t.equal(checkTopicName(topic), asName, `name ${JSON.stringify(topic.slice(0, 20))}`);
    t.equal(checkTopicFilter(topic), asFilter, `filter ${JSON.stringify(topic.slice(0, 20))}`);
  }
});

t.test(
  'shared subscriptions are split into group and filter, or refused with a reason',
  async (t) => {
    t.equal(parseSharedFilter('orders/#'), undefined);
    t.equal(parseSharedFilter('$share'), undefined);
    t.equal(parseSharedFilter('$SHARE/g/x'), undefined, 'the prefix is case-sensitive');
    t.strictSame(parseSharedFilter('$share/g/orders/u1/#'), {
      ok: true,
      group: 'g',
      filter: 'orders/u1/#',
    });
    t.strictSame(parseSharedFilter('$share/payments_1-a/payments/requests'), {
      ok: true,
      group: 'payments_1-a',
      filter: 'payments/requests',
    });
    t.strictSame(parseSharedFilter('$share//x'), { ok: false, reason: 'invalid_share_group' });
    t.strictSame(parseSharedFilter('$share/g+/x'), { ok: false, reason: 'invalid_share_group' });
    t.strictSame(parseSharedFilter('$share/#/x'), { ok: false, reason: 'invalid_share_group' });
    t.strictSame(parseSharedFilter(`$share/${'g'.repeat(65)}/x`), {
      ok: false,
      reason: 'invalid_share_group',
    });
    t.strictSame(parseSharedFilter('$share/g/'), { ok: false, reason: 'missing_share_filter' });
    t.strictSame(parseSharedFilter('$share/g'), { ok: false, reason: 'missing_share_filter' });
    t.strictSame(parseSharedFilter('$share/g/a/#/b'), {
      ok: false,
      reason: 'misplaced_multi_level_wildcard',
    });
  },
);

t.test('build() gives concrete topics that match back to their parameters', async (t) => {
  t.equal(topics.paymentIntents.build(), 'payments/intents');
  t.equal(topics.lowStock.build(), 'inventory/low-stock', 'the topic inventory publishes to');
  t.equal(topics.paymentResults.build({ orderId: 'o1' }), 'payments/results/o1');
  t.equal(topics.terminalStatus.build({ terminalId: 't1' }), 'terminals/t1/status');
  const topic = topics.orderStatus.build({ userId: 'u1', orderId: 'o1' });
  t.equal(topic, 'orders/u1/o1/status');
  t.strictSame(matchTopic(topic), { name: 'orderStatus', params: { userId: 'u1', orderId: 'o1' } });
  t.strictSame(matchTopic('terminals/t1/requests'), {
    name: 'terminalRequests',
    params: { terminalId: 't1' },
  });
  t.strictSame(matchTopic('inventory/low-stock'), { name: 'lowStock', params: {} });
  t.equal(matchTopic('orders/u1/+/status'), undefined);
  t.equal(matchTopic('orders/u1/o1'), undefined);
});

t.test('build() refuses a parameter that is not exactly one topic level', async (t) => {
  for (const orderId of ['', 'a/b', '+', '#', 'a+', 'b#', 'a\u0000', 'a\nb', 'x'.repeat(129)]) {
    t.throws(
      () => topics.paymentResults.build({ orderId }),
      { name: 'TypeError', message: /^topic paymentResults: / },
      `orderId ${JSON.stringify(orderId.slice(0, 10))}`,
    );
  }
  t.throws(() => topics.orderStatus.build({ userId: 'u1' } as never), {
    name: 'TypeError',
    message: 'topic orderStatus: parameter orderId is missing',
  });
});

const uuid = {
  event: '0f4b7f0e-8a3c-4a51-9d3e-2f6b1c9a7e01',
  order: '5c2d9a34-1b7e-4f0a-8c61-3e9d2b7a4f12',
  otherOrder: '9a1e6c2b-7d4f-4e83-a0b5-6c3f8d2e1a23',
  user: 'c3a8e5f1-2b6d-4c97-8e14-7f2a9b3d6c34',
  product: '7e9c1a3b-5d2f-4b68-9a07-1c4e8f6b2d45',
  seller: '2b5f8d1c-9e3a-4c76-b2d9-8a1f4e7c3b56',
};
const at = '2025-03-01T12:00:00.000Z';
const cardNumber = '4111111111111111';
const card = { number: cardNumber, expMonth: 12, expYear: 2030, cvc: '123', holder: 'Ana Pérez' };
/** A card as it travels on payments/requests: a compact JWE for payments' key (shape only here). */
const encryptedCard =
  'eyJhbGciOiJFQ0RILUVTK0EyNTZLVyIsImVuYyI6IkEyNTZHQ00ifQ.d3JhcHBlZA.aXYtaXYtaXYt.Y2lwaGVy.dGFn';

const validPayloads: { [K in TopicKey]: [topic: string, payload: Record<string, unknown>] } = {
  paymentIntents: [
    'payments/intents',
    {
      type: 'payment.intent_created',
      id: uuid.event,
      orderId: uuid.order,
      userId: uuid.user,
      amountMinor: 12_345,
      currency: 'EUR',
      expiresAt: '2025-03-01T12:15:00.000+01:00',
    },
  ],
  paymentRequests: [
    'payments/requests',
    {
      type: 'payment.requested',
      requestId: 'idem-1',
      orderId: uuid.order,
      userId: uuid.user,
      card: encryptedCard,
    },
  ],
  paymentResults: [
    `payments/results/${uuid.order}`,
    {
      type: 'payment.approved',
      id: uuid.event,
      requestId: 'idem-1',
      orderId: uuid.order,
      amountMinor: 12_345,
      currency: 'EUR',
      transactionId: 'tx-1',
      cardBrand: 'visa',
      cardLast4: '1111',
      at,
    },
  ],
  refundRequests: [
    'payments/refunds',
    {
      type: 'refund.requested',
      refundId: `void-${uuid.order}`,
      orderId: uuid.order,
      paymentId: uuid.event,
      amountMinor: 12_345,
      reason: 'order_expired',
    },
  ],
  paymentStatusRequests: [
    'payments/status-requests',
    {
      type: 'payment.status_requested',
      id: uuid.event,
      orderIds: [uuid.order],
      expire: true,
      at,
    },
  ],
  paymentStatus: [
    `payments/status/${uuid.order}`,
    {
      type: 'payment.status',
      id: uuid.event,
      requestId: uuid.event,
      orderId: uuid.order,
      state: 'succeeded',
      paymentId: uuid.event,
      at,
    },
  ],
  paymentKeys: [
    'payments/keys',
    {
      type: 'payments.keys',
      keys: [
        { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1', alg: 'ECDH-ES+A256KW', use: 'enc' },
      ],
      at,
    },
  ],
  terminalRequests: [
    'terminals/t1/requests',
    {
      type: 'terminal.payment_requested',
      requestId: 't1-42',
      amountMinor: 100_000_000_000,
      currency: 'USD',
      card: encryptedCard,
    },
  ],
  terminalResults: [
    'terminals/t1/results',
    {
      type: 'terminal.result',
      id: uuid.event,
      requestId: 't1-43',
      request: 'status',
      result: 'success',
      ofRequestId: 't1-42',
      state: 'processed',
      original: {
        type: 'terminal.result',
        id: uuid.otherOrder,
        requestId: 't1-42',
        request: 'payment',
        result: 'failure',
        errorCondition: 'insufficient_funds',
        amountMinor: 100_000_000_000,
        currency: 'USD',
        cardBrand: 'mastercard',
        cardLast4: '4444',
        at,
      },
      at,
    },
  ],
  terminalTransactions: [
    'payments/terminal-transactions',
    {
      type: 'terminal.transaction_recorded',
      id: uuid.event,
      terminalId: 't1-shop',
      kind: 'reversal',
      outcome: 'reversed',
      amountMinor: 500,
      currency: 'EUR',
      transactionId: 'sbx_re_1',
      orderId: uuid.order,
      periodId: uuid.event,
      at,
    },
  ],
  terminalStatus: ['terminals/t1/status', { type: 'terminal.status', status: 'offline' }],
  orderStatus: [
    `orders/${uuid.user}/${uuid.order}/status`,
    { type: 'order.status_changed', id: uuid.event, orderId: uuid.order, status: 'paid', at },
  ],
  lowStock: [
    'inventory/low-stock',
    {
      type: 'inventory.low_stock_reached',
      id: uuid.event,
      productId: uuid.product,
      sellerId: uuid.seller,
      region: 'eu-west',
      available: 0,
      threshold: 5,
      at,
    },
  ],
  revocations: [
    'users/revocations',
    {
      type: 'account.tokens_revoked',
      id: uuid.event,
      userId: uuid.user,
      reason: 'roles_changed',
      revokedBefore: '2025-03-01T12:00:00.123Z',
    },
  ],
};

t.test('a valid payload parses by topic key and by concrete topic', async (t) => {
  for (const [name, [topic, payload]] of Object.entries(validPayloads)) {
    const json = JSON.stringify(payload);
    t.strictSame(parsePayload(name, json), { ok: true, name, value: payload }, `${name} by key`);
    t.strictSame(
      parsePayload(topic, Buffer.from(json)),
      { ok: true, name, params: matchTopic(topic)?.params, value: payload },
      `${name} by topic`,
    );
  }
});

t.test(
  'a payload that is not JSON, too large or for no topic is refused with a reason',
  async (t) => {
    t.strictSame(parsePayload('paymentIntents', '{'), { ok: false, reason: 'not_json' });
    t.strictSame(parsePayload('paymentIntents', ''), { ok: false, reason: 'not_json' });
    t.strictSame(parsePayload('paymentIntents', Buffer.from([0x7b, 0xff, 0x7d])), {
      ok: false,
      reason: 'not_json',
    });
    t.strictSame(parsePayload('foo/bar', '{}'), { ok: false, reason: 'unknown_topic' });
    t.strictSame(parsePayload('orders/+/+/status', '{}'), { ok: false, reason: 'unknown_topic' });

    const [, payload] = validPayloads.paymentIntents;
    const json = JSON.stringify(payload);
    const padded = (bytes: number) => ' '.repeat(bytes - json.length) + json;
    t.strictSame(parsePayload('paymentIntents', padded(64 * 1024)), {
      ok: true,
      name: 'paymentIntents',
      value: payload,
    });
    t.strictSame(parsePayload('paymentIntents', padded(64 * 1024 + 1)), {
      ok: false,
      reason: 'too_large',
    });
    t.strictSame(parsePayload('paymentIntents', Buffer.from(padded(64 * 1024 + 1))), {
      ok: false,
      reason: 'too_large',
    });
  },
);

t.test('a payload that breaks its schema is refused naming the fields', async (t) => {
  const [, intent] = validPayloads.paymentIntents;
  const refuse = (name: TopicKey, payload: unknown) => parsePayload(name, JSON.stringify(payload));
  t.strictSame(refuse('paymentIntents', { ...intent, note: 'hi' }), {
    ok: false,
    reason: 'invalid_payload: (root) unknown_field',
  });
  t.strictSame(refuse('paymentIntents', { ...intent, amountMinor: '12345', currency: 'eur' }), {
    ok: false,
    reason: 'invalid_payload: amountMinor invalid_type, currency invalid_format',
  });
  t.strictSame(refuse('paymentIntents', { ...intent, amountMinor: 1.5 }), {
    ok: false,
    reason: 'invalid_payload: amountMinor invalid_type',
  });
  t.strictSame(refuse('paymentIntents', { ...intent, amountMinor: 0 }), {
    ok: false,
    reason: 'invalid_payload: amountMinor too_small',
  });
  t.strictSame(refuse('paymentIntents', { ...intent, amountMinor: 100_000_000_001 }), {
    ok: false,
    reason: 'invalid_payload: amountMinor too_big',
  });
  // An unknown type names only the type: which of the union's shapes was meant is unknown.
  t.strictSame(refuse('paymentIntents', { ...intent, type: 'payment.requested', id: 'x' }), {
    ok: false,
    reason: 'invalid_payload: type invalid_union',
  });
  t.strictSame(refuse('paymentIntents', { ...intent, id: 'x' }), {
    ok: false,
    reason: 'invalid_payload: id invalid_format',
  });
  t.strictSame(refuse('paymentIntents', [intent]), {
    ok: false,
    reason: 'invalid_payload: (root) invalid_type',
  });
  t.strictSame(refuse('paymentIntents', null), {
    ok: false,
    reason: 'invalid_payload: (root) invalid_type',
  });
  const [, lowStock] = validPayloads.lowStock;
  t.strictSame(refuse('lowStock', { ...lowStock, available: -1, region: 'EU' }), {
    ok: false,
    reason: 'invalid_payload: region invalid_format, available too_small',
  });
  const [, status] = validPayloads.terminalStatus;
  t.strictSame(refuse('terminalStatus', { ...status, status: 'busy' }), {
    ok: false,
    reason: 'invalid_payload: status invalid_value',
  });
});

t.test('a payload whose id differs from its topic is refused', async (t) => {
  const [, result] = validPayloads.paymentResults;
  t.strictSame(parsePayload(`payments/results/${uuid.otherOrder}`, JSON.stringify(result)), {
    ok: false,
    reason: 'topic_mismatch: orderId',
  });
  const [, status] = validPayloads.orderStatus;
  t.strictSame(
    parsePayload(`orders/${uuid.user}/${uuid.otherOrder}/status`, JSON.stringify(status)),
    { ok: false, reason: 'topic_mismatch: orderId' },
  );
});

t.test(
  'payments/requests carries an encrypted card only: a card in clear is refused',
  async (t) => {
    const [, request] = validPayloads.paymentRequests;
    const reasons = [
      { ...request, card },
      { ...request, card: cardNumber },
      { ...request, card: `${encryptedCard}.extra` },
      { ...request, card: 'a'.repeat(5_000) },
      { ...request, amountMinor: 1 },
    ].map((attempt) => {
      const result = parsePayload('paymentRequests', JSON.stringify(attempt));
      return result.ok ? 'accepted' : result.reason;
    });
    t.strictSame(reasons, [
      'invalid_payload: card invalid_type',
      'invalid_payload: card invalid_format',
      'invalid_payload: card invalid_format',
      'invalid_payload: card too_big, card invalid_format',
      'invalid_payload: (root) unknown_field',
    ]);
    for (const reason of reasons) t.notMatch(reason, /4111/);
  },
);

t.test(
  'a terminal request carries an encrypted card only, and never names a card number',
  async (t) => {
    const [, request] = validPayloads.terminalRequests;
    const attempts = [
      { ...request, card },
      { ...request, card: cardNumber },
      { ...request, card: `${encryptedCard}.${cardNumber}` },
      { ...request, [cardNumber]: encryptedCard },
      { ...request, type: 'terminal.order_payment_requested', payCode: cardNumber.repeat(2) },
    ];
    const reasons = attempts.map((attempt) => {
      const result = parsePayload('terminals/t1/requests', JSON.stringify(attempt));
      return result.ok ? 'accepted' : result.reason;
    });
    t.strictSame(reasons, [
      'invalid_payload: card invalid_type',
      'invalid_payload: card invalid_format',
      'invalid_payload: card invalid_format',
      'invalid_payload: (root) unknown_field',
      'invalid_payload: payCode invalid_format, (root) unknown_field',
    ]);
    for (const reason of reasons) t.notMatch(reason, /4111/);
  },
);

t.test('every kind of terminal request parses, and a request of no kind is refused', async (t) => {
  const requests = [
    {
      type: 'terminal.order_payment_requested',
      requestId: 'r1',
      payCode: 'k7qm-2xwp',
      card: encryptedCard,
    },
    { type: 'terminal.status_requested', requestId: 'r2', ofRequestId: 'r1' },
    { type: 'terminal.abort_requested', requestId: 'r3', ofRequestId: 'r1' },
    { type: 'terminal.reversal_requested', requestId: 'r4', transactionId: 'sbx_ch_1' },
    {
      type: 'terminal.reversal_requested',
      requestId: 'r5',
      transactionId: 'sbx_ch_1',
      amountMinor: 5,
      reason: 'customer_request',
    },
    { type: 'terminal.reconciliation_requested', requestId: 'r6', action: 'close' },
    {
      type: 'terminal.reconciliation_requested',
      requestId: 'r7',
      action: 'totals',
      periodId: uuid.event,
    },
  ];
  for (const request of requests) {
    t.match(
      parsePayload('terminals/t1/requests', JSON.stringify(request)),
      { ok: true },
      request.type,
    );
  }
  const refused = [
    { type: 'terminal.refund_requested', requestId: 'r8' },
    {
      type: 'terminal.reversal_requested',
      requestId: 'r9',
      transactionId: 'sbx_ch_1',
      amountMinor: -5,
    },
    { type: 'terminal.reconciliation_requested', requestId: 'r10', action: 'reopen' },
    { type: 'terminal.status_requested', requestId: '', ofRequestId: 'r1' },
    { type: 'terminal.status_requested', requestId: 'r11', ofRequestId: 'r1\u0000' },
  ].map((request) => {
    const result = parsePayload('terminals/t1/requests', JSON.stringify(request));
    return result.ok ? 'accepted' : result.reason;
  });
  t.strictSame(refused, [
    'invalid_payload: type invalid_union',
    'invalid_payload: amountMinor too_small',
    'invalid_payload: action invalid_value',
    'invalid_payload: requestId invalid_format',
    'invalid_payload: ofRequestId invalid_format',
  ]);
});

t.test('checkPublish: the ACL and, when asked, the payload, from one topic match', async (t) => {
  const inventory = { kind: 'service', service: 'inventory' } as const;
  const products = { kind: 'service', service: 'products' } as const;
  const valid = JSON.stringify({
    type: 'inventory.low_stock_reached',
    id: '7a0c1f8e-2f7e-4a4e-9a53-0f3c7a7c9b10',
    productId: '7a0c1f8e-2f7e-4a4e-9a53-0f3c7a7c9b11',
    sellerId: '7a0c1f8e-2f7e-4a4e-9a53-0f3c7a7c9b12',
    region: 'north',
    available: 1,
    threshold: 5,
    at: '2026-11-23T10:00:00.000Z',
  });
  t.same(checkPublish(inventory, 'inventory/low-stock', valid), { ok: true, name: 'lowStock' });
  t.same(checkPublish(products, 'inventory/low-stock', valid), { ok: false, denied: true });
  t.same(checkPublish(inventory, 'inventory/low-stock', valid, { retain: true }), {
    ok: false,
    denied: true,
  });
  t.same(checkPublish(inventory, '$SYS/x', valid), { ok: false, denied: true });
  const failure = parsePayload('inventory/low-stock', '{"type":"x"}');
  t.match(failure, { ok: false, reason: /^invalid_payload: type invalid_value, id / });
  t.same(checkPublish(inventory, 'inventory/low-stock', '{"type":"x"}'), {
    ...failure,
    denied: false,
  });
  t.same(checkPublish(inventory, 'inventory/low-stock', 'nope', { validate: false }), {
    ok: true,
    name: 'lowStock',
  });
  t.same(checkPublish(products, 'inventory/low-stock', 'nope', { validate: false }), {
    ok: false,
    denied: true,
  });
});
