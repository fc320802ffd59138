export {
  DomainError,
  isDomainError,
  ERROR_CODES,
  type ErrorCode,
  type DomainErrorOptions,
} from './domain-error';
