import type { EntityManager } from 'typeorm';
import { findProduct } from '../catalog';
import { afterCommit } from '../db';
import { Order } from '../entities';
import { DomainError } from '../errors';
import { queryRows } from '../ledger';
import type { ProviderEvent } from '../providers';
import type { BillingDeps } from './deps';

type RefundEvent = Extract<ProviderEvent, { kind: 'refund' }>;

/** A refund of a payment takes back the credits it bought in proportion, rounded down. */
export function creditsForRefund(
  payment: { credits: number; amountMinor: number },
  refundedMinor: number,
): number {
  return Math.floor((payment.credits * refundedMinor) / payment.amountMinor);
}

/** A payment a provider refund can name: an order's, or a subscription renewal's. */
interface RefundablePayment {
  kind: 'order' | 'renewal';
  id: string;
  userId: string;
  productId: string;
  amountMinor: number;
  currency: string;
  refundedMinor: number;
  /** What the payment added to the balance. */
  credits: number;
  /** The link the CLAWBACK row carries. */
  link: { orderId: string } | { subscriptionId: string };
}

export type RefundOutcome =
  | { kind: 'applied'; creditsClawedBack: number }
  /** This refund id was applied before. */
  | { kind: 'duplicate' };

/**
 * A provider refund of a payment (an order's, or a subscription renewal's): the credits it
 * bought, in proportion to the amount refunded (rounded down, so a full refund takes back
 * exactly all of them), clawed back even below zero; an order is REFUNDED once fully
 * refunded. Once per refund id. A refund of a payment Tally has not recorded yet is
 * PAYMENT_NOT_YET_KNOWN, for the provider's retry (or a replay) once its payment is known.
 */
export async function applyRefund(
  deps: BillingDeps,
  options: { manager: EntityManager; event: RefundEvent },
): Promise<RefundOutcome> {
  const { manager, event } = options;
  const payment = await findRefundablePayment(deps, manager, event.transactionId);
  if (!payment) {
    throw new DomainError(
      'PAYMENT_NOT_YET_KNOWN',
      `refund ${event.refundId} of unknown payment ${event.transactionId}`,
    );
  }
  // Amounts in two currencies cannot be put in proportion: nothing is clawed back on a guess.
  if (event.currency !== payment.currency) {
    throw new DomainError(
      'REFUND_CURRENCY_MISMATCH',
      `critical: refund ${event.refundId} is in ${event.currency}, its payment ${event.transactionId} in ${payment.currency}: not applied`,
    );
  }
  const column = payment.kind === 'order' ? 'order_id' : 'subscription_payment_id';
  const [inserted] = await queryRows<{ id: string }>(
    manager,
    `INSERT INTO provider_refunds (provider, refund_id, ${column}, amount_minor, credits_clawed_back)
     VALUES ($1, $2, $3, $4, 0) ON CONFLICT (provider, refund_id) DO NOTHING RETURNING id`,
    [deps.provider.name, event.refundId, payment.id, event.amountMinor],
  );
  if (!inserted) return { kind: 'duplicate' };
  const refunded = Math.min(payment.amountMinor, payment.refundedMinor + event.amountMinor);
  const take = await clawBack(deps, { manager, payment, refunded, refundRowId: inserted.id });
  if (payment.kind === 'order') {
    const recorded = await deps.status.recordOrderRefund({
      manager,
      order: payment,
      refundedMinor: refunded,
    });
    if (recorded.kind === 'refused' || recorded.kind === 'missing') {
      throw new DomainError(
        'ILLEGAL_TRANSITION',
        `refund ${event.refundId}: order ${payment.id} cannot be refunded (${recorded.kind})`,
      );
    }
  } else {
    await manager.query('UPDATE subscription_payments SET refunded_minor = $2 WHERE id = $1', [
      payment.id,
      refunded,
    ]);
  }
  const hook = deps.hooks.refunded;
  if (hook) afterCommit(manager, () => hook(payment.kind));
  return { kind: 'applied', creditsClawedBack: take };
}

/** Takes back what `refunded` in all entitles, less what earlier refunds took. */
async function clawBack(
  deps: BillingDeps,
  options: {
    manager: EntityManager;
    payment: RefundablePayment;
    refunded: number;
    refundRowId: string;
  },
): Promise<number> {
  const { manager, payment } = options;
  const column = payment.kind === 'order' ? 'order_id' : 'subscription_payment_id';
  const [{ clawed } = { clawed: 0 }] = await queryRows<{ clawed: number }>(
    manager,
    `SELECT COALESCE(sum(credits_clawed_back), 0)::int AS clawed FROM provider_refunds
     WHERE ${column} = $1`,
    [payment.id],
  );
  const take = creditsForRefund(payment, options.refunded) - clawed;
  if (take <= 0) return 0;
  const name = findProduct(payment.productId)?.name ?? payment.productId;
  await deps.ledger.clawback({
    userId: payment.userId,
    amount: take,
    description: payment.kind === 'order' ? `Refund of ${name}` : `Refund of ${name} renewal`,
    ...payment.link,
    manager,
  });
  await manager.query('UPDATE provider_refunds SET credits_clawed_back = $2 WHERE id = $1', [
    options.refundRowId,
    take,
  ]);
  return take;
}

/** The payment a provider transaction id names, locked: an order's first, else a renewal's. */
async function findRefundablePayment(
  deps: BillingDeps,
  manager: EntityManager,
  transactionId: string,
): Promise<RefundablePayment | null> {
  const order = await manager.findOne(Order, {
    where: { provider: deps.provider.name, providerTransactionId: transactionId },
    lock: { mode: 'pessimistic_write' },
  });
  if (order) {
    return { ...order, kind: 'order', link: { orderId: order.id } };
  }
  const [renewal] = await queryRows<RefundablePayment & { subscriptionId: string }>(
    manager,
    `SELECT p.id, p.subscription_id AS "subscriptionId", s.user_id AS "userId",
       s.product_id AS "productId", p.amount_minor AS "amountMinor", p.currency,
       p.refunded_minor AS "refundedMinor", p.credits
     FROM subscription_payments p JOIN subscriptions s ON s.id = p.subscription_id
     WHERE p.provider = $1 AND p.provider_transaction_id = $2
     FOR UPDATE OF p`,
    [deps.provider.name, transactionId],
  );
  if (!renewal) return null;
  return { ...renewal, kind: 'renewal', link: { subscriptionId: renewal.subscriptionId } };
}
