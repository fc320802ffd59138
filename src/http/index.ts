export { createHttpApp, MAX_BODY_BYTES, type HttpAppOptions } from './app';
export { originAllowed, type OriginPolicy } from './cors';
export { DEV_TOKEN_SECONDS } from './dev-token';
export { clientAddressResolver } from './client-address';
export { webhookMetricLabels, type PaymentRouteHooks } from './payment-routes';
