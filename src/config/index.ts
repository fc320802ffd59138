export {
  loadConfig,
  configVariableNames,
  ConfigError,
  DEV_JWT_SECRET,
  DEV_MOCK_WEBHOOK_SECRET,
  EXAMPLE_APP_ORIGINS,
  type AppConfig,
  type PaymentEnv,
  type PaymentProviderName,
  type PaddleKeys,
  type TrustProxy,
} from './config';
export { configSecrets, maskSecret, maskUrl } from './mask';
export { renderConfigTable, replaceConfigTable } from './readme-table';
