import { defineOutbox } from '@mercado/common/mqtt';

/**
 * The users service's outbox (sql/users' `outbox` table, as sql/templates/outbox.sql makes it):
 * revocations on `users/revocations`, written in the transaction that revokes, relayed by every
 * replica (SKIP LOCKED shares the rows), woken at once by the table's NOTIFY trigger. While the
 * broker is down the events wait; gateways and broker nodes that lost the broker fetch the list
 * over HTTP meanwhile (GET /internal/revocations).
 */
export const usersOutbox = defineOutbox('users');
