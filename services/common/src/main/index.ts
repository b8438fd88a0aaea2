/** `@mercado/common/main`: a process's entry point — startup failures, signals, orderly stop. */
export { runMain, type MainContext } from './run-main.js';
export {
  runDatabaseService,
  type DatabaseServiceConfig,
  type DatabaseServiceOptions,
  type ServiceRuntime,
  type BackgroundTask,
} from './database-service.js';
