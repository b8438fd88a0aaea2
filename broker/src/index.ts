/**
 * `@mercado/broker`: Mercado's MQTT broker. `createMercadoBroker` builds it (it never listens),
 * `startListeners` opens its TCP, TLS and WebSocket listeners; main.ts is the process.
 */
export { createMercadoBroker, type BrokerDeps, type MercadoBroker } from './broker.js';
export { systemClock, type Clock } from './clock.js';
export { loadBrokerConfig, brokerSettings, type BrokerConfig } from './config.js';
export { startListeners, type BrokerListeners } from './listeners.js';
export {
  createTerminalVerifier,
  terminalVerifyPath,
  type TerminalVerifier,
  type TerminalVerifierOptions,
} from './terminal-verifier.js';
