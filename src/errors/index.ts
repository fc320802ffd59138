export {
  DomainError,
  isDomainError,
  ERROR_CODES,
  type ErrorCode,
  type DomainErrorOptions,
} from './domain-error';
export { isDatabaseUnavailable, UNAVAILABLE_RETRY_AFTER_SECONDS } from './unavailable';
