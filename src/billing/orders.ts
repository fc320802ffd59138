import type { DataSource } from 'typeorm';
import { Order, Subscription } from '../entities';
import { assertPageSize } from '../ledger';

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `id` can be a row id (a UUID): anything else is looked up as nothing. */
export function isUuid(id: string): boolean {
  return UUID.test(id);
}

export interface OrderPage {
  orders: Order[];
  hasNextPage: boolean;
}

/** Orders and subscriptions as their owners see them: the read side of billing. */
export class BillingQueries {
  constructor(private readonly dataSource: DataSource) {}

  /** One order by id; null for an id that is not an order's (malformed ids included). */
  async findOrder(orderId: string): Promise<Order | null> {
    if (!isUuid(orderId)) return null;
    return this.dataSource.getRepository(Order).findOneBy({ id: orderId });
  }

  /**
   * One page of a user's orders, newest first, keyset-paginated on (created_at, id). The
   * cursor is an order id whose position is read in SQL, keeping PostgreSQL's microseconds.
   */
  async listOrders(options: {
    userId: string;
    first: number;
    afterOrderId?: string | undefined;
  }): Promise<OrderPage> {
    const { userId, first, afterOrderId } = options;
    assertPageSize(first);
    const qb = this.dataSource
      .getRepository(Order)
      .createQueryBuilder('o')
      .where('o.user_id = :userId', { userId })
      .orderBy('o.created_at', 'DESC')
      .addOrderBy('o.id', 'DESC')
      .limit(first + 1);
    if (afterOrderId) {
      qb.andWhere(
        '(o.created_at, o.id) < (SELECT c.created_at, c.id FROM orders c WHERE c.id = :after AND c.user_id = :userId)',
        { after: afterOrderId },
      );
    }
    const rows = await qb.getMany();
    return { orders: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  /** The user's live subscription (active or past due), if any. */
  async currentSubscription(userId: string): Promise<Subscription | null> {
    return (
      this.dataSource
        .getRepository(Subscription)
        .createQueryBuilder('s')
        .where('s.user_id = :userId', { userId })
        .andWhere(`s.status IN ('ACTIVE', 'PAST_DUE')`)
        // Cancelled at the end of a period that has now ended: over, whatever the last event said.
        .andWhere('NOT (s.cancel_at_period_end AND s.current_period_end <= now())')
        .orderBy('s.created_at', 'DESC')
        .limit(1)
        .getOne()
    );
  }

  /** 'free', or the product id of the user's active subscription. */
  async planOf(userId: string): Promise<string> {
    const subscription = await this.currentSubscription(userId);
    return subscription?.status === 'ACTIVE' ? subscription.productId : 'free';
  }
}
