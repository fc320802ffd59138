export { createHttpApp, MAX_BODY_BYTES, type HttpAppOptions } from './app';
export { originAllowed } from './cors';
export { DEV_TOKEN_SECONDS } from './dev-token';
