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
    readonly code: ErrorCode,
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
