import { runTransaction } from '../db';
import { Subscription } from '../entities';
import { DomainError } from '../errors';
import type { BillingDeps } from './deps';
import { BillingQueries } from './queries';

export type CancelOutcome =
  /** Cancelled now. */
  | { kind: 'cancelled'; subscription: Subscription }
  /** Cancelled at the end of the current period: live and paid for until then. */
  | { kind: 'scheduled'; subscription: Subscription };

/**
 * Cancels the user's live subscription at the provider, by default at the end of the
 * period, and records it at once (the provider's event then confirms it). NOT_FOUND without
 * a live subscription; PROVIDER_ERROR when the provider refuses or cannot be reached.
 */
export async function cancelSubscription(
  deps: BillingDeps,
  options: { userId: string; atPeriodEnd: boolean },
): Promise<CancelOutcome> {
  const { atPeriodEnd } = options;
  const live = await new BillingQueries(deps.dataSource).currentSubscription(options.userId);
  if (!live) throw new DomainError('NOT_FOUND', 'No active subscription');
  try {
    await deps.provider.cancelSubscription(live.providerSubscriptionId, atPeriodEnd);
  } catch (error) {
    deps.logger.error({ err: error, subscriptionId: live.id }, 'provider cancel failed');
    throw new DomainError('PROVIDER_ERROR', 'The payment provider could not cancel it');
  }
  const ref = { id: live.id };
  const subscription = await runTransaction(deps.dataSource, async (manager) => {
    // The provider's own event may have got here first (the mock's arrives within the call):
    // a subscription it already ended is left as it is.
    const current = await manager.findOne(Subscription, {
      where: { id: live.id },
      lock: { mode: 'pessimistic_write' },
    });
    if (current?.status !== 'CANCELLED') {
      await (atPeriodEnd
        ? deps.status.setCancelAtPeriodEnd({ manager, ref, value: true })
        : deps.status.moveSubscription({ manager, ref, to: 'CANCELLED' }));
    }
    return manager.findOneByOrFail(Subscription, { id: live.id });
  });
  return { kind: atPeriodEnd ? 'scheduled' : 'cancelled', subscription };
}
