export {
  ProfileService,
  MAX_PAGE_SIZE,
  assertPageSize,
  assertUserId,
  isUserId,
  type TransactionPage,
  type CreditSummary,
} from './profiles';
export {
  Ledger,
  MAX_CREDIT_AMOUNT,
  DEFAULT_RESERVATION_TTL_SECONDS,
  MAX_RESERVATION_TTL_SECONDS,
  MAX_ACTIVE_RESERVATIONS,
  assertAmount,
  assertDescription,
  assertTtl,
  type CreditMovement,
  type MovementOptions,
  type CreditDrift,
  type ReservedDrift,
  type ReserveOptions,
  type CaptureOptions,
  type CaptureResult,
} from './ledger';
export {
  MAX_IDEMPOTENCY_KEY_LENGTH,
  assertIdempotencyKey,
  claimIdempotencyKey,
  storeIdempotentResponse,
} from './idempotency';
export { lockProfile } from './movements';
export { withCredits, type CreditHold, type WithCreditsResult } from './with-credits';
export { queryRows } from './sql';
