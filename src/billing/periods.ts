import type { EntityManager } from 'typeorm';
import { findProduct } from '../catalog';
import { Order, Subscription } from '../entities';
import { DomainError } from '../errors';
import type { ProviderEvent, ProviderPeriod } from '../providers';
import type { BillingDeps } from './deps';

type Renewal = Extract<ProviderEvent, { kind: 'subscription.renewed' }>;

export type RenewOutcome = { kind: 'renewed'; subscription: Subscription; credits: number };

/**
 * One SUBSCRIPTION_GRANT per period: checked under the subscription's lock, backed by a
 * unique index. Says how many credits it granted (0 for a period already granted).
 */
export async function grantPeriod(
  deps: BillingDeps,
  options: {
    manager: EntityManager;
    subscriptionId: string;
    order: Pick<Order, 'userId' | 'credits' | 'productId'>;
    period: Pick<ProviderPeriod, 'periodStart'>;
  },
): Promise<number> {
  const { manager, subscriptionId, order, period } = options;
  await manager.query('SELECT 1 FROM subscriptions WHERE id = $1 FOR UPDATE', [subscriptionId]);
  const granted = (await manager.query(
    `SELECT 1 FROM credit_transactions WHERE subscription_id = $1 AND period_start = $2
       AND type = 'SUBSCRIPTION_GRANT'`,
    [subscriptionId, period.periodStart],
  )) as unknown[];
  if (granted.length > 0) return 0;
  const name = findProduct(order.productId)?.name ?? order.productId;
  await deps.ledger.grant({
    userId: order.userId,
    type: 'SUBSCRIPTION_GRANT',
    amount: order.credits,
    description: `${name}: period from ${period.periodStart.toISOString().slice(0, 10)}`,
    subscriptionId,
    periodStart: period.periodStart,
    manager,
  });
  return order.credits;
}

/**
 * A renewal the provider charged: the period moves forward (never back: a late or repeated
 * renewal changes nothing), a PAST_DUE subscription is ACTIVE again unless a newer change
 * came first, the period's credits are granted once, and its payment is recorded for a
 * later refund to find. Before its subscription is known: SUBSCRIPTION_NOT_YET_KNOWN.
 */
export async function renewSubscription(
  deps: BillingDeps,
  options: { manager: EntityManager; event: Renewal },
): Promise<RenewOutcome> {
  const { manager, event } = options;
  const subscription = await manager.findOne(Subscription, {
    where: { provider: deps.provider.name, providerSubscriptionId: event.providerSubscriptionId },
    lock: { mode: 'pessimistic_write' },
  });
  if (!subscription) {
    throw new DomainError(
      'SUBSCRIPTION_NOT_YET_KNOWN',
      `renewal of unknown subscription ${event.providerSubscriptionId}`,
    );
  }
  const order = subscription.orderId
    ? await manager.findOneBy(Order, { id: subscription.orderId })
    : null;
  const product = findProduct(subscription.productId);
  const credits = order?.credits ?? product?.credits;
  if (!credits) {
    throw new DomainError(
      'CREDITS_UNKNOWN',
      `no credits known for subscription ${subscription.id}`,
    );
  }
  await resume(deps, { manager, subscription, event });
  const { userId, productId } = subscription;
  const granted = await grantPeriod(deps, {
    manager,
    subscriptionId: subscription.id,
    order: { userId, credits, productId },
    period: event,
  });
  await recordRenewalPayment(deps, {
    manager,
    subscriptionId: subscription.id,
    event,
    fallback: order ?? { amountMinor: product?.priceMinor, currency: product?.currency },
    credits: granted,
  });
  return { kind: 'renewed', subscription, credits: granted };
}

/**
 * What a charged renewal says of its subscription: the period moves forward; a PAST_DUE or
 * PAUSED one runs again; one that was to be cancelled at the end of the period just renewed
 * was not (the provider charged the next one). The status changes are guarded by the
 * event's time, so a newer change the provider made still wins.
 */
async function resume(
  deps: BillingDeps,
  options: { manager: EntityManager; subscription: Subscription; event: Renewal },
): Promise<void> {
  const { manager, subscription, event } = options;
  const ref = { id: subscription.id };
  const occurredAt = eventTime(event);
  const advanced = await deps.status.advancePeriod({
    manager,
    subscriptionId: subscription.id,
    period: event,
  });
  if (subscription.status === 'PAST_DUE' || subscription.status === 'PAUSED') {
    await deps.status.moveSubscription({ manager, ref, to: 'ACTIVE', occurredAt });
  }
  if (advanced && subscription.cancelAtPeriodEnd) {
    await deps.status.setCancelAtPeriodEnd({ manager, ref, value: false, occurredAt });
  }
}

/** The time a provider's event happened, or now when it did not say. */
export function eventTime(event: ProviderEvent): Date {
  return event.occurredAt ?? new Date();
}

/**
 * The renewal's own payment, so a refund of it finds what it bought. A second event for the
 * same payment records nothing more.
 */
async function recordRenewalPayment(
  deps: BillingDeps,
  options: {
    manager: EntityManager;
    subscriptionId: string;
    event: Renewal;
    /** What the renewal charged when the event does not say (events stored before it did). */
    fallback: { amountMinor?: number | undefined; currency?: string | undefined };
    credits: number;
  },
): Promise<void> {
  const { manager, event, fallback } = options;
  await manager.query(
    `INSERT INTO subscription_payments (subscription_id, provider, provider_transaction_id,
       period_start, period_end, amount_minor, currency, credits)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (provider, provider_transaction_id) DO NOTHING`,
    [
      options.subscriptionId,
      deps.provider.name,
      event.transactionId,
      event.periodStart,
      event.periodEnd,
      event.amountMinor ?? fallback.amountMinor,
      event.currency ?? fallback.currency,
      options.credits,
    ],
  );
}
