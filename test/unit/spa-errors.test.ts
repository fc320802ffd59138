import { AppError, describeError } from '../../examples/spa/web/errors';

describe('the example SPA tells people what went wrong', () => {
  it.each([
    [new AppError('INSUFFICIENT_CREDITS', 'Insufficient credits'), /^Not enough credits/],
    [new AppError('RATE_LIMITED', 'Too many', 42), /wait 42 seconds/],
    [new AppError('RATE_LIMITED', 'Too many'), /wait a moment/],
    [
      new AppError('PROVIDER_ERROR', 'Paddle: 503 upstream'),
      /payment provider .* Nothing was charged/,
    ],
    [new AppError('ALREADY_SUBSCRIBED', 'You already have a plan'), /already have a plan/],
    [new AppError('UNAUTHENTICATED', 'jwt expired'), /sign in again/],
    [new AppError('INTERNAL_SERVER_ERROR', 'Internal server error'), /on our side/],
    [new TypeError('Failed to fetch'), /Cannot reach the server/],
  ])('%s', (error, expected) => {
    const text = describeError(error);
    expect(text).toMatch(expected);
    // A sentence, never the raw payload or a vendor's message.
    expect(text).not.toMatch(/[{}]|Paddle|jwt/);
  });
});
