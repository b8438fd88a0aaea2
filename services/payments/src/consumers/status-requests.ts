import { consumeTopic, type MqttClient, type TopicConsumer } from '@mercado/common/mqtt';
import type { PaymentsDeps } from '../domain/deps.js';
import { answerStatusRequest } from '../domain/status.js';
import { paymentsShareGroup } from './payment-requests.js';

/**
 * `$share/payments/payments/status-requests` (orders → payments): what became of these orders'
 * payments, and with `expire`, close those nobody paid. Answering twice is harmless: the second
 * answer says the same, and a result published again is applied once by orders' inbox.
 */
export function consumeStatusRequests(deps: PaymentsDeps & { mqtt: MqttClient }): TopicConsumer {
  return consumeTopic({
    mqtt: deps.mqtt,
    log: deps.log,
    topic: 'paymentStatusRequests',
    share: paymentsShareGroup,
    async handle({ value }) {
      await answerStatusRequest(deps, value);
    },
  });
}
