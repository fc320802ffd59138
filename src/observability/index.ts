export { createLogger, silentLogger, type Logger } from './logger';
export { Metrics } from './metrics';
