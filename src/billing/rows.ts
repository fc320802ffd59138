import { Order, Subscription } from '../entities';

/** An `orders` row as `RETURNING *` gives it, as the entity. */
export function orderFromRow(row: Record<string, unknown>): Order {
  return Object.assign(new Order(), {
    id: row['id'],
    userId: row['user_id'],
    productId: row['product_id'],
    kind: row['kind'],
    status: row['status'],
    amountMinor: row['amount_minor'],
    refundedMinor: row['refunded_minor'],
    currency: row['currency'],
    credits: row['credits'],
    provider: row['provider'],
    checkoutId: row['checkout_id'],
    checkoutUrl: row['checkout_url'],
    providerTransactionId: row['provider_transaction_id'],
    createdAt: row['created_at'],
    updatedAt: row['updated_at'],
    completedAt: row['completed_at'],
  });
}

/** A `subscriptions` row as `RETURNING *` gives it, as the entity. */
export function subscriptionFromRow(row: Record<string, unknown>): Subscription {
  return Object.assign(new Subscription(), {
    id: row['id'],
    userId: row['user_id'],
    orderId: row['order_id'],
    productId: row['product_id'],
    provider: row['provider'],
    providerSubscriptionId: row['provider_subscription_id'],
    status: row['status'],
    currentPeriodStart: row['current_period_start'],
    currentPeriodEnd: row['current_period_end'],
    cancelAtPeriodEnd: row['cancel_at_period_end'],
    statusChangedAt: row['status_changed_at'],
    cancelledAt: row['cancelled_at'],
    createdAt: row['created_at'],
    updatedAt: row['updated_at'],
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` can be a row id (a UUID): anything else is looked up as nothing. */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}
