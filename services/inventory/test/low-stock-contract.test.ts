import t from 'tap';
import { parsePayload, topics } from '@mercado/common/contract';
import { lowStockMessages } from '../src/domain/low-stock.js';

// Kept with inventory rather than the kit: the kit's tests import no component.
t.test('what inventory publishes on low stock is a valid low-stock payload', async (t) => {
  const messages = lowStockMessages(
    [
      {
        productId: '7e9c1a3b-5d2f-4b68-9a07-1c4e8f6b2d45',
        sellerId: '2b5f8d1c-9e3a-4c76-b2d9-8a1f4e7c3b56',
        region: 'eu-west',
        availableBefore: 5,
        thresholdBefore: 5,
        availableAfter: 4,
        thresholdAfter: 5,
      },
    ],
    new Date('2025-03-01T12:00:00.000Z'),
  );
  t.equal(messages.length, 1);
  for (const message of messages) {
    t.equal(message.topic, 'lowStock', 'named by its contract key');
    const result = parsePayload(topics.lowStock.build(), JSON.stringify(message.payload));
    t.strictSame(result, { ok: true, name: 'lowStock', params: {}, value: message.payload });
  }
});
