import type { DataSource } from 'typeorm';
import {
  BillingStatus,
  type BillingDeps,
  type BillingHooks,
  type StatusHooks,
} from '../../src/billing';
import { Ledger, ProfileService } from '../../src/ledger';
import { silentLogger, type Logger } from '../../src/observability';
import type { PaymentProvider } from '../../src/providers';

/**
 * Billing's dependencies on a test's own database, for calling use cases directly (no HTTP,
 * no server): the real ledger, profiles and status module.
 */
export function billingDeps(options: {
  dataSource: DataSource;
  provider: PaymentProvider;
  logger?: Logger;
  hooks?: BillingHooks;
  statusHooks?: StatusHooks;
}): BillingDeps {
  const logger = options.logger ?? silentLogger;
  return {
    dataSource: options.dataSource,
    ledger: new Ledger(options.dataSource),
    profiles: new ProfileService(options.dataSource),
    provider: options.provider,
    logger,
    status: new BillingStatus({
      provider: options.provider.name,
      logger,
      ...(options.statusHooks ? { hooks: options.statusHooks } : {}),
    }),
    hooks: options.hooks ?? {},
  };
}
