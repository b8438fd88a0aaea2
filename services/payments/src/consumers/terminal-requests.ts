import { consumeTopic, type MqttClient, type TopicConsumer } from '@mercado/common/mqtt';
import type { PaymentsDeps } from '../domain/deps.js';
import { handleTerminalRequest } from '../domain/terminals.js';
import { paymentsShareGroup } from './payment-requests.js';

/**
 * `$share/payments/terminals/+/requests` (terminals → payments): a terminal's payment, status
 * query, abort, reversal or reconciliation. The terminal is the topic's: the broker lets each
 * terminal publish under its own id only, so no payload can speak for another terminal.
 */
export function consumeTerminalRequests(deps: PaymentsDeps & { mqtt: MqttClient }): TopicConsumer {
  return consumeTopic({
    mqtt: deps.mqtt,
    log: deps.log,
    topic: 'terminalRequests',
    share: paymentsShareGroup,
    async handle({ params, value }) {
      await handleTerminalRequest(deps, params.terminalId, value);
    },
  });
}
