export {
  ProfileService,
  MAX_PAGE_SIZE,
  assertPageSize,
  assertUserId,
  type TransactionPage,
} from './profiles';
export {
  Ledger,
  MAX_CREDIT_AMOUNT,
  assertAmount,
  assertDescription,
  type CreditMovement,
  type MovementOptions,
  type CreditDrift,
} from './ledger';
export { MAX_IDEMPOTENCY_KEY_LENGTH, assertIdempotencyKey } from './idempotency';
