export {
  DomainError,
  isDomainError,
  isConditionCode,
  CONDITIONS,
  ERROR_CODES,
  type ConditionCode,
  type DomainCode,
  type ErrorCode,
  type DomainErrorOptions,
} from './domain-error';
export { HTTP_STATUS } from './http-status';
export { isDatabaseUnavailable, UNAVAILABLE_RETRY_AFTER_SECONDS } from './unavailable';
