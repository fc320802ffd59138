/**
 * What the page tells a person when something goes wrong: a sentence, never raw JSON.
 * Tally's errors carry `extensions.code` (API.md); the example backend answers
 * `{ error: { code, message } }` in the same vocabulary.
 */
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export function describeError(error: unknown): string {
  if (!(error instanceof AppError)) {
    // fetch() rejects with a TypeError when the server cannot be reached at all.
    return error instanceof TypeError
      ? 'Cannot reach the server. Check your connection and try again.'
      : 'Something went wrong. Please try again.';
  }
  switch (error.code) {
    case 'INSUFFICIENT_CREDITS':
      return 'Not enough credits for this. Buy a credit pack or subscribe to the monthly plan.';
    case 'RATE_LIMITED':
      return error.retryAfterSeconds
        ? `Too many attempts. Please wait ${error.retryAfterSeconds} seconds and try again.`
        : 'Too many attempts. Please wait a moment and try again.';
    case 'PROVIDER_ERROR':
      return 'The payment provider is not answering right now. Nothing was charged; please try again in a few minutes.';
    case 'ALREADY_SUBSCRIBED':
      return 'You already have a plan. A new one can start when it has ended.';
    case 'UNAUTHENTICATED':
      return 'Your session has ended. Please sign in again.';
    case 'FORBIDDEN':
      return 'You are not allowed to do that.';
    case 'NOT_FOUND':
      return 'That no longer exists. Reload the page and try again.';
    case 'IN_PROGRESS':
      return 'That is still running. Give it a moment.';
    case 'WORK_FAILED':
      return error.message;
    case 'BAD_USER_INPUT':
      return error.message;
    default:
      return 'Something went wrong on our side. Please try again.';
  }
}
