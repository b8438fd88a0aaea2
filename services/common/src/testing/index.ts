/**
 * `@mercado/common/testing`: what tests (and the developer scripts) use — free ports, test
 * databases, captured logs, service starters, refusal assertions and the sweep of every
 * operation's refused input, a test Redis, raw MQTT packets. Never imported by a running service.
 */
export * from './testing.js';
export { freePort } from './free-port.js';
export { eventually } from './eventually.js';
export { sendRawHttp, unparsableRequests } from './raw-http.js';
export {
  expectHostileInputRefused,
  refusalsOf,
  refusalsOfAll,
  unknownIdCases,
  type HostileInputSweep,
  type OperationExample,
} from './operations.js';
