import type { Logger } from '@mercado/common/log';
import { consumeTopic, type MqttClient, type TopicConsumer } from '@mercado/common/mqtt';
import type { OrdersDeps } from '../domain/deps.js';
import { applyPaymentResult } from '../domain/payment-results.js';

/**
 * Orders' MQTT entry point: every payment result, through the `orders` share group
 * (`$share/orders/payments/results/+`), so each result reaches one replica. Applying one is
 * idempotent by its event id (the inbox), so a redelivery changes nothing.
 */
export function consumePaymentResults(
  deps: Pick<OrdersDeps, 'db' | 'inventory'> & { mqtt: MqttClient; log: Logger },
): TopicConsumer {
  return consumeTopic({
    mqtt: deps.mqtt,
    log: deps.log,
    topic: 'paymentResults',
    share: 'orders',
    handle: ({ params, value }) =>
      applyPaymentResult(deps, params.orderId, value).then(() => undefined),
  });
}
