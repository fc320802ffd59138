import type { DataSource } from 'typeorm';
import { BillingQueries, CheckoutService, PaymentService } from '../billing';
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
  billing: BillingQueries;
  payments: PaymentService;
  checkout: CheckoutService;
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
  const billing = new BillingQueries(dataSource);
  // Read by PaymentService on each redirect: final, since the server listens already.
  const resultUrls = { successUrl: urls.successUrl, cancelUrl: urls.cancelUrl };
  const payments = new PaymentService(dataSource, ledger, provider, logger, resultUrls, {
    orderChanged: (order) => {
      if (order.status === 'COMPLETED') metrics.payments.inc({ outcome: 'completed' });
      if (order.status === 'CANCELLED') metrics.payments.inc({ outcome: 'cancelled' });
      realtime.publishOrder(order);
    },
    paymentFailed: () => metrics.payments.inc({ outcome: 'failed' }),
    refunded: (kind) => metrics.refunds.inc({ kind }),
    secondSubscription: () => metrics.subscriptionConflicts.inc(),
    webhookHandled: (kind, outcome, seconds) => {
      metrics.webhookEvents.inc({ kind, outcome });
      if (outcome !== 'rejected') metrics.webhookSeconds.observe({ kind }, seconds);
    },
  });
  const checkout = new CheckoutService(
    dataSource,
    profiles,
    provider,
    logger,
    limits.checkout,
    (outcome) => {
      metrics.checkouts.inc({ outcome });
      // A checkout the provider could not start is a failed payment attempt.
      if (outcome === 'provider_error') metrics.payments.inc({ outcome: 'failed' });
    },
  );
  return { provider, limits, profiles, realtime, ledger, billing, payments, checkout };
}
