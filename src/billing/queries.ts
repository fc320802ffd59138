import type { DataSource } from 'typeorm';
import { Order, Subscription } from '../entities';
import { assertPageSize } from '../ledger';
import { liveSubscriptionSql, planOf } from './live';
import { isUuid } from './rows';

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

  /** The user's live subscription (billing/live.ts), if any: the newest. */
  async currentSubscription(userId: string): Promise<Subscription | null> {
    return this.dataSource
      .getRepository(Subscription)
      .createQueryBuilder('s')
      .where('s.user_id = :userId', { userId })
      .andWhere(liveSubscriptionSql('s'))
      .orderBy('s.created_at', 'DESC')
      .limit(1)
      .getOne();
  }

  /** 'free', or the product id of the user's live subscription in good standing. */
  async planOf(userId: string): Promise<string> {
    return planOf(await this.currentSubscription(userId));
  }
}
