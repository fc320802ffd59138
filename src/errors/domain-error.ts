/**
 * The closed list of error codes of the public API (API.md). Domain code throws only these;
 * graphql/errors.ts maps each to `extensions.code` and an HTTP status in one place.
 */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'INSUFFICIENT_CREDITS',
  'IDEMPOTENCY_KEY_REUSED',
  'RESERVATION_NOT_ACTIVE',
  'ALREADY_SUBSCRIBED',
  'RATE_LIMITED',
  'PROVIDER_ERROR',
  'SERVICE_UNAVAILABLE',
  'INTERNAL_SERVER_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * Billing conditions an operator or a provider's retry must tell apart. They never reach a
 * GraphQL client (a resolver that meets one answers INTERNAL_SERVER_ERROR); they are stored
 * on the webhook event they stopped (`webhook_events.error_code`), shown and filterable in
 * the admin `webhookEvents` query, and counted in `tally_webhook_failures_total{code}`.
 */
export const CONDITIONS = {
  /** An event about a subscription whose creation has not arrived yet: the retry applies it. */
  SUBSCRIPTION_NOT_YET_KNOWN: { retry: true, critical: false },
  /** A refund of a payment whose own event has not arrived yet: the retry applies it. */
  PAYMENT_NOT_YET_KNOWN: { retry: true, critical: false },
  /** A payment for a checkout no order of Tally's holds. */
  ORDER_NOT_KNOWN: { retry: false, critical: true },
  /** A payment whose amount or currency is not the order's: money taken, nothing credited. */
  PAYMENT_MISMATCH: { retry: false, critical: true },
  /** A subscription's first payment without its period. */
  PERIOD_MISSING: { retry: false, critical: true },
  /** A refund in another currency than its payment: nothing clawed back on a guess. */
  REFUND_CURRENCY_MISMATCH: { retry: false, critical: true },
  /** A renewal of a subscription whose credits per period are not known. */
  CREDITS_UNKNOWN: { retry: false, critical: true },
  /** A status change outside the table of legal moves (billing/status.ts). */
  ILLEGAL_TRANSITION: { retry: false, critical: false },
} as const satisfies Record<string, { retry: boolean; critical: boolean }>;

export type ConditionCode = keyof typeof CONDITIONS;

/** Every code a DomainError can carry: the API's, and billing's conditions. */
export type DomainCode = ErrorCode | ConditionCode;

export function isConditionCode(code: string): code is ConditionCode {
  return Object.hasOwn(CONDITIONS, code);
}

export interface DomainErrorOptions {
  /** Seconds until a rate-limited caller may retry. */
  retryAfterSeconds?: number;
  /** Extra fields safe to show a client (never secrets or internals). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** The one error type domain code throws. Its message is shown to clients: keep it safe. */
export class DomainError extends Error {
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    readonly code: DomainCode,
    message: string,
    options: DomainErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DomainError';
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }
}

export function isDomainError(error: unknown): error is DomainError {
  return error instanceof DomainError;
}
