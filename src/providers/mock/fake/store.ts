import { randomBytes } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { MockPayment } from '../../../entities';
import { MockProviderRefusal } from './refusal';

/** A provider-side id: `<prefix>_` and 24 hex digits. */
export const mockId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;

/** A paid checkout that started a subscription: its period is known. */
export type MockSubscriptionRow = MockPayment & {
  subscriptionId: string;
  periodStart: Date;
  periodEnd: Date;
};

/** What the fake is asked to sell in a checkout. */
export interface NewMockCheckout {
  orderId: string;
  productName: string;
  recurring: boolean;
  amountMinor: number;
  currency: string;
}

/**
 * The fake provider's records of checkouts, their payments and the subscriptions they
 * started (`mock_payments`; renewal charges are `mock_renewals`). Reads here; the dashboard
 * changes them, each change in a transaction with the webhook reporting it.
 */
export class MockStore {
  constructor(
    private readonly dataSource: DataSource,
    /** Where the fake's hosted pages are reached: `<base>/<checkoutId>`. */
    private readonly pagesUrl: () => string,
  ) {}

  /** A hosted checkout, open until paid or cancelled: its id and its page. */
  async open(checkout: NewMockCheckout): Promise<{ checkoutId: string; url: string }> {
    const checkoutId = mockId('mck');
    await this.dataSource.getRepository(MockPayment).insert({ checkoutId, ...checkout });
    return { checkoutId, url: `${this.pagesUrl()}/${checkoutId}` };
  }

  async find(checkoutId: string): Promise<MockPayment | null> {
    if (!/^mck_[0-9a-f]{24}$/.test(checkoutId)) return null;
    return this.dataSource.getRepository(MockPayment).findOneBy({ checkoutId });
  }

  async findBySubscription(subscriptionId: string): Promise<MockPayment | null> {
    return this.dataSource.getRepository(MockPayment).findOneBy({ subscriptionId });
  }

  /** In a dashboard action's transaction: the checkout, locked until it commits; else 404. */
  async lockOrThrow(manager: EntityManager, checkoutId: string): Promise<MockPayment> {
    const row = /^mck_[0-9a-f]{24}$/.test(checkoutId)
      ? await manager.getRepository(MockPayment).findOne({
          where: { checkoutId },
          lock: { mode: 'pessimistic_write' },
        })
      : null;
    if (!row) throw new MockProviderRefusal('No such checkout', 404);
    return row;
  }

  /** The same, for an action on the subscription the checkout started; 409 when none. */
  async lockSubscriptionOrThrow(
    manager: EntityManager,
    checkoutId: string,
  ): Promise<MockSubscriptionRow> {
    const row = await this.lockOrThrow(manager, checkoutId);
    if (!row.subscriptionId || row.status !== 'PAID') {
      throw new MockProviderRefusal('No active subscription for this checkout', 409);
    }
    return row as MockSubscriptionRow;
  }
}
