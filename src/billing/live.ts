import type { Subscription } from '../entities';

/**
 * The one definition of a live subscription, which the checkout guard, `me.plan`,
 * `me.subscription` and order completion all read, so they cannot disagree: it has started
 * and is not over. Over means CANCELLED, or cancelled at the end of a period that has now
 * ended, whether or not the provider's final event has arrived (it may be late, or lost).
 * PAST_DUE (a renewal being retried) is live: the provider may still charge it, so a
 * second plan beside it would be charged twice. PAUSED is not (API.md, issue 15): the
 * provider charges nothing and grants stop until it is resumed.
 *
 * `alias` is the subscriptions table's alias in the caller's SQL.
 */
export function liveSubscriptionSql(alias: string): string {
  return (
    `${alias}.status IN ('ACTIVE', 'PAST_DUE')` +
    ` AND NOT (${alias}.cancel_at_period_end AND ${alias}.current_period_end <= now())`
  );
}

/**
 * What `me.plan` shows for the user's live subscription (or none): its product while it is
 * in good standing (ACTIVE), else 'free'. A past-due plan is still live (a new plan is
 * refused, the subscription is shown) but gives no plan until it is paid again.
 */
export function planOf(live: Pick<Subscription, 'status' | 'productId'> | null): string {
  return live?.status === 'ACTIVE' ? live.productId : 'free';
}
