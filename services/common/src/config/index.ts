/** `@mercado/common/config`: a process's configuration, read from the environment once. */
export {
  ConfigError,
  loadConfig,
  setting,
  baseServiceSettings,
  databaseSettings,
  outboxRelaySettings,
  answerCacheSettings,
  mqttSettings,
  regionPattern,
} from './config.js';
