import { consumeTopic, type MqttClient, type TopicConsumer } from '@mercado/common/mqtt';
import type { PaymentsDeps } from '../domain/deps.js';
import { requestPayment } from '../domain/payments.js';

/** The shared subscription group of payments' replicas: each request goes to one of them. */
export const paymentsShareGroup = 'payments';

/**
 * `$share/payments/payments/requests` (gateway → payments): charge this order with this card.
 * The card is decrypted in memory, never logged (the consumer logs ids only) and never stored.
 */
export function consumePaymentRequests(deps: PaymentsDeps & { mqtt: MqttClient }): TopicConsumer {
  return consumeTopic({
    mqtt: deps.mqtt,
    log: deps.log,
    topic: 'paymentRequests',
    share: paymentsShareGroup,
    async handle({ value }) {
      await requestPayment(deps, value);
    },
  });
}
