import { Order } from '../entities';
import { DomainError } from '../errors';
import type { BillingDeps } from './deps';
import { settleByVerification, verifyWithProvider } from './reconcile';
import { isUuid } from './rows';

/**
 * Where the user's redirect back ends: `paid` and `cancelled` as the provider verified,
 * `pending` when it has not settled yet (then the page the browser asked for is shown).
 */
export type RedirectOutcome = {
  kind: 'paid' | 'cancelled' | 'pending';
  orderId: string;
  /** What the query string asked for: only a hint, never trusted. */
  asked: 'success' | 'cancel';
};

/**
 * `GET /api/payment/callback`: asks the provider how the checkout stands and completes or
 * cancels the order accordingly. Only the provider's word cancels an order: the query
 * string's `status=cancel` is anyone's to send (a link on any page).
 */
export async function handleRedirect(
  deps: BillingDeps,
  options: { orderId: unknown; checkoutId: unknown; status: unknown },
): Promise<RedirectOutcome> {
  const { orderId, checkoutId, status } = options;
  if (typeof orderId !== 'string' || !isUuid(orderId)) {
    throw new DomainError('BAD_USER_INPUT', 'order_id must be an order id');
  }
  if (typeof checkoutId !== 'string' || checkoutId.length === 0 || checkoutId.length > 255) {
    throw new DomainError('BAD_USER_INPUT', 'checkout_id is missing or malformed');
  }
  if (status !== 'success' && status !== 'cancel') {
    throw new DomainError('BAD_USER_INPUT', 'status must be success or cancel');
  }
  const order = await deps.dataSource.getRepository(Order).findOneBy({ id: orderId });
  if (!order || order.checkoutId !== checkoutId) {
    throw new DomainError('NOT_FOUND', 'Order not found');
  }
  deps.logger.info({ orderId, status }, 'payment callback started');
  const verification = await verifyWithProvider(deps, { orderId, checkoutId });
  const settled = await settleByVerification(deps, { orderId, verification });
  const kind = settled.kind === 'completed' ? 'paid' : settled.kind;
  return { kind, orderId, asked: status };
}
