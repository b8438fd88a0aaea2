import { consumeTopic, type MqttClient, type TopicConsumer } from '@mercado/common/mqtt';
import type { PaymentsDeps } from '../domain/deps.js';
import { receiveIntent, receiveIntentCancellation } from '../domain/intents.js';
import { paymentsShareGroup } from './payment-requests.js';

/**
 * `$share/payments/payments/intents` (orders → payments): what an order owes, or that it no longer
 * can be paid. One replica handles each message (the intents live in the shared database); every
 * write is idempotent by order id, so a redelivery changes nothing.
 */
export function consumePaymentIntents(deps: PaymentsDeps & { mqtt: MqttClient }): TopicConsumer {
  return consumeTopic({
    mqtt: deps.mqtt,
    log: deps.log,
    topic: 'paymentIntents',
    share: paymentsShareGroup,
    async handle({ value }) {
      if (value.type === 'payment.intent_created') await receiveIntent(deps, value);
      else await receiveIntentCancellation(deps, value);
    },
  });
}
