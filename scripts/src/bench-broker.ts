import { benchBroker } from './bench/broker.js';

/**
 * `npm run bench:broker`: bare aedes against Mercado's broker (authentication, ACL, payload
 * validation): 1→1 msg/s at QoS 0 and 1, QoS 1 request/response latency, idle connections' RSS.
 */
await benchBroker();
