import type { EntityManager } from 'typeorm';
import { DomainError, type ConditionCode } from '../errors';
import { queryRows } from '../ledger';
import type { ProviderEvent } from '../providers';
import { completeOrder } from './complete-order';
import type { BillingDeps } from './deps';
import { eventTime, renewSubscription } from './periods';
import { applyRefund } from './refunds';
import type { Move } from './status';

/** What applying one provider event did. */
export type ApplyOutcome =
  | { kind: 'applied' }
  /**
   * Nothing to do: a type Tally does not act on, an event older than the last one applied
   * (`stale`), or one asking for a move the status table refuses (ILLEGAL_TRANSITION).
   */
  | { kind: 'ignored'; reason: string; code?: ConditionCode };

type SubscriptionEvent = Extract<
  ProviderEvent,
  { kind: 'subscription.past_due' | 'subscription.cancelled' }
>;

/**
 * Applies one verified provider event inside the caller's transaction. A condition that
 * must fail the event (for the provider's retry, or an operator) is thrown as a
 * DomainError with its code; the caller records it.
 */
export async function applyProviderEvent(
  deps: BillingDeps,
  options: { manager: EntityManager; event: ProviderEvent },
): Promise<ApplyOutcome> {
  const { manager, event } = options;
  switch (event.kind) {
    case 'checkout.completed':
      await completeOrder(deps, {
        manager,
        orderId: event.orderId,
        payment: event,
        checkoutId: event.checkoutId,
      });
      return { kind: 'applied' };
    case 'checkout.cancelled':
      return cancelCheckout(deps, { manager, event });
    case 'subscription.renewed':
      await renewSubscription(deps, { manager, event });
      return { kind: 'applied' };
    case 'subscription.past_due':
    case 'subscription.cancelled':
      return applySubscriptionEvent(deps, { manager, event });
    case 'refund':
      await applyRefund(deps, { manager, event });
      return { kind: 'applied' };
    case 'ignored':
      return { kind: 'ignored', reason: `type ${event.type} is not acted on` };
  }
}

/** The provider closed a checkout unpaid: its order (the one holding that checkout) is cancelled. */
async function cancelCheckout(
  deps: BillingDeps,
  options: {
    manager: EntityManager;
    event: Extract<ProviderEvent, { kind: 'checkout.cancelled' }>;
  },
): Promise<ApplyOutcome> {
  const { manager, event } = options;
  const [order] = await queryRows<{ checkout_id: string | null }>(
    manager,
    'SELECT checkout_id FROM orders WHERE id = $1 FOR UPDATE',
    [event.orderId],
  );
  if (!order || order.checkout_id !== event.checkoutId) {
    // Nothing was paid: an unknown checkout's cancellation changes nothing and needs no one.
    return { kind: 'ignored', reason: `no order ${event.orderId} holds ${event.checkoutId}` };
  }
  const moved = await deps.status.moveOrder({ manager, orderId: event.orderId, to: 'CANCELLED' });
  return fromMove(moved, `order ${event.orderId}`);
}

/**
 * Past due, cancelled now, or cancelled at the period's end. An event about a subscription
 * whose creation has not arrived yet fails (SUBSCRIPTION_NOT_YET_KNOWN), so the provider
 * delivers it again after the creation instead of it being applied to nothing and lost.
 */
async function applySubscriptionEvent(
  deps: BillingDeps,
  options: { manager: EntityManager; event: SubscriptionEvent },
): Promise<ApplyOutcome> {
  const { manager, event } = options;
  const ref = { providerSubscriptionId: event.providerSubscriptionId };
  const occurredAt = eventTime(event);
  let moved: Move<unknown>;
  if (event.kind === 'subscription.past_due') {
    moved = await deps.status.moveSubscription({ manager, ref, to: 'PAST_DUE', occurredAt });
  } else if (event.cancelAtPeriodEnd && event.endsAt.getTime() > Date.now()) {
    moved = await deps.status.setCancelAtPeriodEnd({ manager, ref, value: true, occurredAt });
  } else {
    moved = await deps.status.moveSubscription({ manager, ref, to: 'CANCELLED', occurredAt });
  }
  if (moved.kind === 'missing') {
    throw new DomainError(
      'SUBSCRIPTION_NOT_YET_KNOWN',
      `event for unknown subscription ${event.providerSubscriptionId}: not yet created`,
    );
  }
  return fromMove(moved, `subscription ${event.providerSubscriptionId}`);
}

/** An event's outcome from the status change it asked for. */
function fromMove(moved: Move<unknown>, what: string): ApplyOutcome {
  switch (moved.kind) {
    case 'moved':
    case 'unchanged':
      return { kind: 'applied' };
    case 'stale':
      return { kind: 'ignored', reason: `${what}: a newer change was applied first` };
    case 'refused':
      return {
        kind: 'ignored',
        reason: `${what} is ${moved.from}: ${moved.to} is not a legal move`,
        code: 'ILLEGAL_TRANSITION',
      };
    case 'missing':
      return { kind: 'ignored', reason: `${what} is not known` };
  }
}
