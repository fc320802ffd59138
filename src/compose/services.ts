import type { DataSource } from 'typeorm';
import { BillingStatus, createBilling, type Billing } from '../billing';
import type { AppConfig } from '../config';
import { Ledger, ProfileService } from '../ledger';
import type { Logger, Metrics } from '../observability';
import { createPaymentProvider, type PaymentProvider } from '../providers';
import { createRateLimits, type RateLimits } from '../ratelimit';
import { createPubSub, Realtime } from '../realtime';
import type { ServerUrls } from './urls';

/** The domain services, and what they stand on. */
export interface Services {
  provider: PaymentProvider;
  limits: RateLimits;
  profiles: ProfileService;
  realtime: Realtime;
  ledger: Ledger;
  billing: Billing;
}

/** The one writer of orders and subscriptions, telling live updates and metrics. */
function billingStatus(deps: {
  provider: PaymentProvider;
  logger: Logger;
  metrics: Metrics;
  realtime: Realtime;
}): BillingStatus {
  const { metrics, realtime } = deps;
  return new BillingStatus({
    provider: deps.provider.name,
    logger: deps.logger,
    hooks: {
      orderChanged: (order) => {
        if (order.status === 'COMPLETED') metrics.payments.inc({ outcome: 'completed' });
        if (order.status === 'CANCELLED') metrics.payments.inc({ outcome: 'cancelled' });
        realtime.publishOrder(order);
      },
      refused: (entity, from, to) => metrics.statusMovesRefused.inc({ entity, from, to }),
    },
  });
}

/** Builds the provider, the ledger and billing, each told what to count and announce. */
export function buildServices(deps: {
  config: AppConfig;
  logger: Logger;
  dataSource: DataSource;
  metrics: Metrics;
  urls: ServerUrls;
}): Services {
  const { config, logger, dataSource, metrics, urls } = deps;
  const provider = createPaymentProvider({
    config,
    dataSource,
    logger,
    publicUrl: () => urls.publicUrl,
    webhookUrl: () => `${urls.ownUrl}/api/payment/callback`,
  });
  const limits = createRateLimits(config, logger, (limit) => metrics.rateLimited.inc({ limit }));
  const profiles = new ProfileService(dataSource);
  // Live updates and metrics, told only after the database commits what they describe.
  const realtime = new Realtime(createPubSub(config.redisUrl, logger), logger);
  const ledger = new Ledger(dataSource, {
    afterCommit: (movement) => {
      metrics.ledgerMovements.inc({ type: movement.transaction.type });
      realtime.publishBalance({
        userId: movement.transaction.userId,
        balance: movement.balance,
        transaction: movement.transaction,
      });
    },
  });
  const billing = createBilling({
    dataSource,
    ledger,
    profiles,
    provider,
    logger,
    status: billingStatus({ provider, logger, metrics, realtime }),
    checkoutLimit: limits.checkout,
    hooks: {
      paymentFailed: () => metrics.payments.inc({ outcome: 'failed' }),
      refunded: (kind) => metrics.refunds.inc({ kind }),
      secondSubscription: () => metrics.subscriptionConflicts.inc(),
      checkout: (outcome) => {
        metrics.checkouts.inc({ outcome });
        // A checkout the provider could not start is a failed payment attempt.
        if (outcome === 'provider_error') metrics.payments.inc({ outcome: 'failed' });
      },
    },
  });
  return { provider, limits, profiles, realtime, ledger, billing };
}
