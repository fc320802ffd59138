export { createLogger, silentLogger, type Logger, type LoggerOptions } from './logger';
export { currentRequestId, requestContext, requestIdFrom, type RequestContext } from './context';
export { createRedactor } from './redact';
export { Metrics } from './metrics';
