import { consumeTopic, type MqttClient, type TopicConsumer } from '@mercado/common/mqtt';
import type { PaymentsDeps } from '../domain/deps.js';
import { refundPayment } from '../domain/refunds.js';
import { paymentsShareGroup } from './payment-requests.js';

/** `$share/payments/payments/refunds` (orders → payments): give back (part of) a payment. */
export function consumeRefundRequests(deps: PaymentsDeps & { mqtt: MqttClient }): TopicConsumer {
  return consumeTopic({
    mqtt: deps.mqtt,
    log: deps.log,
    topic: 'refundRequests',
    share: paymentsShareGroup,
    async handle({ value }) {
      await refundPayment(deps, {
        refundId: value.refundId,
        paymentId: value.paymentId,
        orderId: value.orderId,
        amountMinor: value.amountMinor,
        reason: value.reason,
      });
    },
  });
}
