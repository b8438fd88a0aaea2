import type { Knex } from '@mercado/common/db';
import type { Logger } from '@mercado/common/log';
import { consumeTopic, type MqttClient, type TopicConsumer } from '@mercado/common/mqtt';
import { recordTerminalTransaction } from '../data/terminal-transactions-repository.js';

export interface TerminalTransactionsOptions {
  db: Knex;
  /** The service's MQTT client (runtime.mqtt). */
  mqtt: MqttClient;
  log: Logger;
}

/** The share group of the users replicas: each event reaches one of them. */
export const usersShareGroup = 'users';

/**
 * The users service's second MQTT entry point: payments' `terminal.transaction_recorded` events
 * (`$share/users/payments/terminal-transactions`), each kept in `terminal_transactions` for the
 * admin's list. One replica of the `users` group gets each event; it comes at least once (QoS 1),
 * and a repeat of an event id is ignored (the row is keyed by it), so the list counts it once.
 *
 * An event is kept whatever the registry says of its terminal — unknown, deleted, or not yet
 * registered in this replica's view: it is payments' record of what the terminal did, a reversal
 * may come after the terminal was deleted, and only live terminals are listed anyway. Nothing is
 * looked up, so keeping one is a single insert.
 */
export function consumeTerminalTransactions({
  db,
  mqtt,
  log,
}: TerminalTransactionsOptions): TopicConsumer {
  return consumeTopic({
    mqtt,
    log,
    topic: 'terminalTransactions',
    share: usersShareGroup,
    async handle({ value }) {
      const recorded = await recordTerminalTransaction(db, value);
      log.debug(
        {
          eventId: value.id,
          terminalId: value.terminalId,
          outcome: recorded ? 'terminal_transaction_recorded' : 'terminal_transaction_repeated',
        },
        recorded ? 'terminal transaction recorded' : 'terminal transaction heard again; ignored',
      );
    },
  });
}
