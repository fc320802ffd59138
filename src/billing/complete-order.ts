import type { EntityManager } from 'typeorm';
import { findProduct } from '../catalog';
import { afterCommit } from '../db';
import { Order } from '../entities';
import { DomainError } from '../errors';
import { lockProfile, queryRows } from '../ledger';
import type { ProviderPeriod } from '../providers';
import type { BillingDeps } from './deps';
import { liveSubscriptionSql } from './live';
import { grantPeriod } from './periods';

/** A payment as the provider confirmed it (by verification or a signed event). */
export interface ConfirmedPayment {
  transactionId: string;
  amountMinor: number;
  currency: string;
  subscription?: ProviderPeriod | undefined;
}

export type CompleteOutcome =
  | { kind: 'completed'; order: Order }
  /** Already COMPLETED or REFUNDED: nothing happens twice. */
  | { kind: 'already_settled'; order: Order };

/**
 * Completes an order once, in the caller's transaction under the order's row lock:
 * COMPLETED, and its credits (a PURCHASE, or the subscription and its first period's
 * grant). A payment that does not match the order's price is refused, loudly.
 */
export async function completeOrder(
  deps: BillingDeps,
  options: {
    manager: EntityManager;
    orderId: string;
    payment: ConfirmedPayment;
    /** When the payment names its checkout (a webhook), it must be the order's. */
    checkoutId?: string | undefined;
  },
): Promise<CompleteOutcome> {
  const { manager, orderId, payment, checkoutId } = options;
  const order = await manager.findOne(Order, {
    where: { id: orderId },
    lock: { mode: 'pessimistic_write' },
  });
  if (!order || (checkoutId !== undefined && order.checkoutId !== checkoutId)) {
    throw new DomainError(
      'ORDER_NOT_KNOWN',
      `no order ${orderId} for checkout ${checkoutId ?? '(any)'}`,
    );
  }
  if (order.status === 'COMPLETED' || order.status === 'REFUNDED') {
    return { kind: 'already_settled', order };
  }
  if (payment.amountMinor !== order.amountMinor || payment.currency !== order.currency) {
    deps.logger.error(
      { orderId, paid: payment.amountMinor, currency: payment.currency },
      'critical: payment does not match the order',
    );
    throw new DomainError(
      'PAYMENT_MISMATCH',
      `payment of ${payment.amountMinor} ${payment.currency} does not match order`,
    );
  }
  if (order.kind === 'SUBSCRIPTION' && !payment.subscription) {
    throw new DomainError('PERIOD_MISSING', `subscription order ${orderId} paid without a period`);
  }
  const moved = await deps.status.moveOrder({
    manager,
    orderId,
    to: 'COMPLETED',
    transactionId: payment.transactionId,
  });
  if (moved.kind !== 'moved') {
    throw new DomainError('ILLEGAL_TRANSITION', `order ${orderId} cannot complete (${moved.kind})`);
  }
  await creditOrder(deps, { manager, order, period: payment.subscription });
  return { kind: 'completed', order: moved.row };
}

/** What a completed order gives: a pack's credits, or a plan's subscription and first grant. */
async function creditOrder(
  deps: BillingDeps,
  options: { manager: EntityManager; order: Order; period: ProviderPeriod | undefined },
): Promise<void> {
  const { manager, order, period } = options;
  if (order.kind === 'CREDIT_PACK') {
    await deps.ledger.grant({
      userId: order.userId,
      type: 'PURCHASE',
      amount: order.credits,
      description: `Purchase: ${findProduct(order.productId)?.name ?? order.productId}`,
      orderId: order.id,
      manager,
    });
    return;
  }
  // Plans of one user complete in turn, so each sees the other's subscription.
  await lockProfile(manager, order.userId);
  await flagSecondPlan(deps, { manager, order, period: period! });
  const subscription = await deps.status.startSubscription({
    manager,
    userId: order.userId,
    orderId: order.id,
    productId: order.productId,
    period: period!,
  });
  await grantPeriod(deps, { manager, subscriptionId: subscription.id, order, period: period! });
}

/**
 * Checkout allows one live plan at a time, but the provider may still complete a payment
 * page opened elsewhere: the money is taken, so the plan starts, and someone must look.
 */
async function flagSecondPlan(
  deps: BillingDeps,
  options: { manager: EntityManager; order: Order; period: ProviderPeriod },
): Promise<void> {
  const { manager, order, period } = options;
  const others = await queryRows<{ id: string }>(
    manager,
    `SELECT s.id FROM subscriptions s WHERE s.user_id = $1 AND ${liveSubscriptionSql('s')}
       AND NOT (s.provider = $2 AND s.provider_subscription_id = $3)`,
    [order.userId, deps.provider.name, period.providerSubscriptionId],
  );
  if (others.length === 0) return;
  deps.logger.error(
    { orderId: order.id, userId: order.userId, subscriptionIds: others.map((o) => o.id) },
    'critical: a second active subscription for one user: refund or cancel one',
  );
  const hook = deps.hooks.secondSubscription;
  if (hook) afterCommit(manager, hook);
}
