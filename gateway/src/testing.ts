/**
 * `@mercado/gateway/testing`: what other components' tests use to run the real gateway in their
 * own process (load its configuration, build it). Test code only: no running process imports it
 * (lint refuses it).
 */
export { buildGateway, loadGatewayConfig } from './app.js';
