/**
 * `@mercado/broker/testing`: what other components' tests use to run Mercado's real broker in
 * their own process (build it, give it listeners, ask the users service about terminals). Test code
 * only: no running process imports it (lint refuses it).
 */
export {
  createMercadoBroker,
  loadBrokerConfig,
  startListeners,
  type BrokerConfig,
  type BrokerListeners,
  type MercadoBroker,
  type TerminalVerifier,
} from './index.js';
export { createTerminalVerifier } from './terminal-verifier.js';
