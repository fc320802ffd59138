import type { DataSource } from 'typeorm';
import type { Ledger, ProfileService } from '../ledger';
import type { Logger } from '../observability';
import type { PaymentProvider } from '../providers';
import type { RateLimit } from '../ratelimit';
import type { BillingStatus } from './status';

/** What billing tells the outside (metrics), each once it has committed. */
export interface BillingHooks {
  /** The provider reported a payment failed (verification or reconciliation). */
  paymentFailed?: () => void;
  /** A provider refund was applied (of an order's payment or a renewal's). */
  refunded?: (kind: 'order' | 'renewal') => void;
  /** A plan started while the user already had a live one: someone must refund or cancel one. */
  secondSubscription?: () => void;
  /** How a checkout request ended. */
  checkout?: (outcome: 'created' | 'replayed' | 'provider_error') => void;
}

/** What every billing use case works with: one object, built once by the composition root. */
export interface BillingDeps {
  dataSource: DataSource;
  ledger: Ledger;
  profiles: ProfileService;
  provider: PaymentProvider;
  logger: Logger;
  /** The only writer of orders and subscriptions. */
  status: BillingStatus;
  hooks: BillingHooks;
  /** Checkouts per user. */
  checkoutLimit?: RateLimit | undefined;
}
