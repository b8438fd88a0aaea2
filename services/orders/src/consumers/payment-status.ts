import type { Logger } from '@mercado/common/log';
import { consumeTopic, type MqttClient, type TopicConsumer } from '@mercado/common/mqtt';
import type { OrdersDeps } from '../domain/deps.js';
import { applyPaymentStatus } from '../domain/payment-status.js';

/**
 * Orders' answers from payments about unpaid orders, through the `orders` share group
 * (`$share/orders/payments/status/+`): any replica may apply one, and applying one twice changes
 * nothing.
 */
export function consumePaymentStatus(
  deps: Pick<OrdersDeps, 'db' | 'inventory'> & { mqtt: MqttClient; log: Logger },
): TopicConsumer {
  return consumeTopic({
    mqtt: deps.mqtt,
    log: deps.log,
    topic: 'paymentStatus',
    share: 'orders',
    handle: ({ params, value }) =>
      applyPaymentStatus(deps, params.orderId, value).then(() => undefined),
  });
}
