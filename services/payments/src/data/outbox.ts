import { defineOutbox } from '@mercado/common/mqtt';

/** Payments' outbox (sql/payments/0002_outbox.sql): results and refunds wait here until relayed. */
export const paymentsOutbox = defineOutbox('payments');
