import { runTransaction } from '../db';
import { Order } from '../entities';
import { DomainError } from '../errors';
import type { PaymentVerification } from '../providers';
import { completeOrder } from './complete-order';
import type { BillingDeps } from './deps';
import { isUuid } from './rows';

/** What asking the provider about an order settled. */
export type SettleOutcome =
  | { kind: 'completed'; orderId: string }
  | { kind: 'cancelled'; orderId: string; providerStatus: 'cancelled' | 'failed' }
  /** The provider has not settled it yet: the webhook (or a later reconciliation) decides. */
  | { kind: 'pending'; orderId: string };

/** What reconciling settled, and the order as it stands after. */
export type ReconcileOutcome = (SettleOutcome | { kind: 'not_pending'; orderId: string }) & {
  order: Order;
};

/**
 * Settles a pending order by what the provider verified (never by what a browser said):
 * paid → completed (credited once), cancelled or failed → cancelled, open → left pending.
 * Never a provider call inside a database transaction.
 */
export async function settleByVerification(
  deps: BillingDeps,
  options: { orderId: string; verification: PaymentVerification },
): Promise<SettleOutcome> {
  const { orderId, verification } = options;
  if (verification.status === 'paid') {
    await runTransaction(deps.dataSource, (manager) =>
      completeOrder(deps, {
        manager,
        orderId,
        payment: {
          transactionId: verification.transactionId!,
          amountMinor: verification.amountMinor!,
          currency: verification.currency!,
          subscription: verification.subscription,
        },
      }),
    );
    return { kind: 'completed', orderId };
  }
  if (verification.status === 'pending') return { kind: 'pending', orderId };
  if (verification.status === 'failed') deps.hooks.paymentFailed?.();
  await runTransaction(deps.dataSource, (manager) =>
    deps.status.moveOrder({ manager, orderId, to: 'CANCELLED' }),
  );
  return { kind: 'cancelled', orderId, providerStatus: verification.status };
}

/** Asks the provider how a checkout stands; PROVIDER_ERROR when it cannot be reached. */
export async function verifyWithProvider(
  deps: BillingDeps,
  options: { orderId: string; checkoutId: string },
): Promise<PaymentVerification> {
  try {
    return await deps.provider.verifyPayment(options.checkoutId);
  } catch (error) {
    deps.logger.error({ err: error, orderId: options.orderId }, 'payment verification failed');
    throw new DomainError('PROVIDER_ERROR', 'The payment provider could not be reached');
  }
}

/** Asks the provider about one pending order and settles it (an admin, the job, the CLI). */
export async function reconcileOrder(
  deps: BillingDeps,
  options: { orderId: string },
): Promise<ReconcileOutcome> {
  const { orderId } = options;
  const orders = deps.dataSource.getRepository(Order);
  const order = isUuid(orderId) ? await orders.findOneBy({ id: orderId }) : null;
  if (!order) throw new DomainError('NOT_FOUND', 'Order not found');
  if (order.status !== 'PENDING') return { kind: 'not_pending', orderId, order };
  let settled: SettleOutcome;
  if (order.checkoutId) {
    const verification = await verifyWithProvider(deps, { orderId, checkoutId: order.checkoutId });
    settled = await settleByVerification(deps, { orderId, verification });
  } else {
    // The provider never made its checkout: nothing can have been paid.
    await runTransaction(deps.dataSource, (manager) =>
      deps.status.moveOrder({ manager, orderId, to: 'CANCELLED' }),
    );
    settled = { kind: 'cancelled', orderId, providerStatus: 'cancelled' };
  }
  deps.logger.info({ orderId, outcome: settled.kind }, 'reconciled');
  return { ...settled, order: await orders.findOneByOrFail({ id: orderId }) };
}

/** Pending orders older than `olderThanMinutes`, oldest first (at most 500). */
export async function stuckOrders(
  deps: BillingDeps,
  options: { olderThanMinutes: number },
): Promise<Order[]> {
  const minutes = options.olderThanMinutes;
  if (!Number.isInteger(minutes) || minutes < 0 || minutes > 525_600) {
    throw new DomainError('BAD_USER_INPUT', 'olderThanMinutes must be 0 to 525600');
  }
  return deps.dataSource
    .getRepository(Order)
    .createQueryBuilder('o')
    .where(`o.status = 'PENDING'`)
    .andWhere(`o.created_at < now() - make_interval(mins => :minutes)`, { minutes })
    .orderBy('o.created_at', 'ASC')
    .limit(500)
    .getMany();
}

export interface ReconcileSummary {
  pending: number;
  /** How many ended in each order status. */
  settled: Record<string, number>;
  /** Ids that could not be settled (the provider unreachable, say). */
  failed: string[];
}

/** Reconciles every order pending for over `olderThanMinutes` (the CLI and the scheduled job). */
export async function reconcileStuckOrders(
  deps: BillingDeps,
  options: { olderThanMinutes: number },
): Promise<ReconcileSummary> {
  const stuck = await stuckOrders(deps, options);
  const settled: Record<string, number> = {};
  const failed: string[] = [];
  for (const order of stuck) {
    try {
      const { order: after } = await reconcileOrder(deps, { orderId: order.id });
      settled[after.status] = (settled[after.status] ?? 0) + 1;
    } catch (error) {
      deps.logger.error({ err: error, orderId: order.id }, 'reconciliation failed');
      failed.push(order.id);
    }
  }
  return { pending: stuck.length, settled, failed };
}
