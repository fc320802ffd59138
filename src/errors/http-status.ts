import type { DomainCode } from './domain-error';

/**
 * The one table from an error code to an HTTP status: GraphQL's single-operation responses
 * (API.md) and the payment routes read it alike. Billing conditions are failures to apply a
 * provider's event: 500, which every provider retries.
 */
export const HTTP_STATUS: Readonly<Record<DomainCode, number>> = Object.freeze({
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  INSUFFICIENT_CREDITS: 200,
  IDEMPOTENCY_KEY_REUSED: 409,
  RESERVATION_NOT_ACTIVE: 409,
  ALREADY_SUBSCRIBED: 409,
  RATE_LIMITED: 429,
  PROVIDER_ERROR: 502,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_SERVER_ERROR: 500,
  SUBSCRIPTION_NOT_YET_KNOWN: 500,
  PAYMENT_NOT_YET_KNOWN: 500,
  ORDER_NOT_KNOWN: 500,
  PAYMENT_MISMATCH: 500,
  PERIOD_MISSING: 500,
  REFUND_CURRENCY_MISMATCH: 500,
  CREDITS_UNKNOWN: 500,
  ILLEGAL_TRANSITION: 500,
});
