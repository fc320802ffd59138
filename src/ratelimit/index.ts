import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { AppConfig } from '../config';
import { DomainError } from '../errors';
import type { Logger } from '../observability';

/** A fixed-window limit of `points` per minute per key. */
export interface RateLimit {
  /** Counts one use of `key`; RATE_LIMITED (with retryAfterSeconds) when over the limit. */
  consume(key: string): Promise<void>;
}

export interface RateLimits {
  /** createCheckout, per user. */
  checkout: RateLimit;
  /** /api/payment/callback, per client IP. */
  callback: RateLimit;
  close(): Promise<void>;
}

function limit(
  limiter: RateLimiterMemory | RateLimiterRedis,
  what: string,
  logger: Logger,
  onReject?: () => void,
): RateLimit {
  return {
    async consume(key) {
      try {
        await limiter.consume(key);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) {
          onReject?.();
          const retryAfterSeconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
          throw new DomainError(
            'RATE_LIMITED',
            `Too many ${what}; retry in ${retryAfterSeconds} s`,
            {
              retryAfterSeconds,
            },
          );
        }
        // The store failed (and so did its in-process insurance): let the request through
        // rather than fail a payment over a counter.
        logger.warn({ err: rejection, limit: what }, 'rate limiter unavailable');
      }
    },
  };
}

/**
 * The limits of API.md. In-process by default; with REDIS_URL the counters are shared by
 * every instance, and an in-process limiter takes over while Redis is unreachable.
 */
export function createRateLimits(
  config: Pick<AppConfig, 'redisUrl' | 'rateLimits'>,
  logger: Logger,
  /** Told of each refusal, by limit (metrics). */
  onReject?: (limit: 'checkout' | 'callback') => void,
): RateLimits {
  const rejected = (which: 'checkout' | 'callback') => () => onReject?.(which);
  const specs = {
    checkout: { points: config.rateLimits.checkoutPerMinute, prefix: 'tally:rl:checkout' },
    callback: { points: config.rateLimits.callbackPerMinute, prefix: 'tally:rl:callback' },
  };
  if (!config.redisUrl) {
    return {
      checkout: limit(
        new RateLimiterMemory({ points: specs.checkout.points, duration: 60 }),
        'checkouts',
        logger,
        rejected('checkout'),
      ),
      callback: limit(
        new RateLimiterMemory({ points: specs.callback.points, duration: 60 }),
        'callbacks',
        logger,
        rejected('callback'),
      ),
      async close() {},
    };
  }
  const redis = new Redis(config.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    lazyConnect: false,
  });
  redis.on('error', (error: Error) => logger.warn({ err: error }, 'Redis error (rate limits)'));
  const shared = (spec: { points: number; prefix: string }) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: spec.prefix,
      points: spec.points,
      duration: 60,
      insuranceLimiter: new RateLimiterMemory({ points: spec.points, duration: 60 }),
    });
  return {
    checkout: limit(shared(specs.checkout), 'checkouts', logger, rejected('checkout')),
    callback: limit(shared(specs.callback), 'callbacks', logger, rejected('callback')),
    async close() {
      redis.disconnect();
    },
  };
}
