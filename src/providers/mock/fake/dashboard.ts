import type { DataSource, EntityManager } from 'typeorm';
import { MockPayment, MockRenewal } from '../../../entities';
import type { MockEvent } from '../wire';
import { MockProviderRefusal } from './refusal';
import type { ClaimedDelivery, MockWebhookSender } from './sender';
import { mockId, type MockStore, type MockSubscriptionRow } from './store';

const MONTH_MS = 30 * 24 * 3600 * 1000;

function mockEvent(type: string, data: Record<string, unknown>): MockEvent {
  return { id: mockId('evt'), type, created_at: new Date().toISOString(), data };
}

/** What a refund of `payment` takes: all that is left by default, never more; as a provider refuses. */
function refundAmount(
  payment: { amountMinor: number; refundedMinor: number },
  requested: number | undefined,
): number {
  const left = payment.amountMinor - payment.refundedMinor;
  if (left === 0) throw new MockProviderRefusal('Payment already refunded', 409);
  const amount = requested ?? left;
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new MockProviderRefusal('amount must be a positive integer', 400);
  }
  if (amount > left) {
    throw new MockProviderRefusal(`amount exceeds the ${left} left to refund`, 409);
  }
  return amount;
}

/** The checkout.completed of a paid checkout. */
function completedEvent(row: MockPayment): MockEvent {
  return mockEvent('checkout.completed', {
    checkout_id: row.checkoutId,
    order_id: row.orderId,
    transaction_id: row.transactionId,
    amount: row.amountMinor,
    currency: row.currency,
    ...(row.subscriptionId
      ? {
          subscription_id: row.subscriptionId,
          period_start: row.periodStart!.toISOString(),
          period_end: row.periodEnd!.toISOString(),
        }
      : {}),
  });
}

/**
 * What the fake provider's dashboard, its clock and its customers do: each action changes
 * its records and sends the matching webhook, in one transaction (the webhook's first attempt
 * after the commit, awaited), and returns the event it sent. Refusals are MockProviderRefusal.
 */
export class MockDashboard {
  constructor(
    private readonly dataSource: DataSource,
    private readonly store: MockStore,
    private readonly sender: MockWebhookSender,
  ) {}

  /** The customer pays. With `sendWebhook: false` the delivery is lost. */
  async pay(checkoutId: string, options: { sendWebhook?: boolean } = {}): Promise<MockEvent> {
    return this.act(async (m) => {
      const row = await this.store.lockOrThrow(m, checkoutId);
      if (row.status !== 'OPEN') {
        throw new MockProviderRefusal(`Checkout is ${row.status.toLowerCase()}, not open`, 409);
      }
      const start = new Date();
      const paid: Partial<MockPayment> = {
        status: 'PAID',
        transactionId: mockId('txn'),
        subscriptionId: row.recurring ? mockId('sub') : null,
        subscriptionStatus: row.recurring ? 'ACTIVE' : null,
        periodStart: row.recurring ? start : null,
        periodEnd: row.recurring ? new Date(start.getTime() + MONTH_MS) : null,
      };
      await m.getRepository(MockPayment).update({ checkoutId }, paid);
      return completedEvent({ ...row, ...paid });
    }, options.sendWebhook !== false);
  }

  /** The customer gives up on the checkout page. */
  async cancel(checkoutId: string): Promise<MockEvent> {
    return this.act(async (m) => {
      const row = await this.store.lockOrThrow(m, checkoutId);
      if (row.status !== 'OPEN') {
        throw new MockProviderRefusal(`Checkout is ${row.status.toLowerCase()}, not open`, 409);
      }
      await m.getRepository(MockPayment).update({ checkoutId }, { status: 'CANCELLED' });
      return mockEvent('checkout.cancelled', { checkout_id: checkoutId, order_id: row.orderId });
    });
  }

  /**
   * A refund from the dashboard: all of what is left by default, never more. Of the
   * checkout's first payment, or of one of its renewals when `transactionId` names one.
   */
  async refund(
    checkoutId: string,
    amountMinor?: number,
    transactionId?: string,
  ): Promise<MockEvent> {
    return this.act(async (m) => {
      const row = await this.store.lockOrThrow(m, checkoutId);
      if (row.status !== 'PAID') throw new MockProviderRefusal('Checkout is not paid', 409);
      if (transactionId !== undefined && transactionId !== row.transactionId) {
        return this.refundRenewal(m, row, transactionId, amountMinor);
      }
      const amount = refundAmount(row, amountMinor);
      await m
        .getRepository(MockPayment)
        .update({ checkoutId }, { refundedMinor: row.refundedMinor + amount });
      return mockEvent('refund.created', {
        refund_id: mockId('ref'),
        transaction_id: row.transactionId,
        amount,
        currency: row.currency,
      });
    });
  }

  /** The clock reaches the end of the period: the next one is charged. */
  async renew(checkoutId: string): Promise<MockEvent> {
    return this.act(async (m) =>
      this.renewIn(m, await this.store.lockSubscriptionOrThrow(m, checkoutId)),
    );
  }

  /** A renewal charge failed. */
  async pastDue(checkoutId: string): Promise<MockEvent> {
    return this.act(async (m) => {
      const row = await this.store.lockSubscriptionOrThrow(m, checkoutId);
      await m.getRepository(MockPayment).update({ checkoutId }, { subscriptionStatus: 'PAST_DUE' });
      return mockEvent('subscription.past_due', { subscription_id: row.subscriptionId });
    });
  }

  /** Cancels the subscription now, or at the end of its period (when its clock gets there). */
  async cancelSubscription(checkoutId: string, atPeriodEnd = true): Promise<MockEvent> {
    return this.act(async (m) => {
      const row = await this.store.lockSubscriptionOrThrow(m, checkoutId);
      await m
        .getRepository(MockPayment)
        .update(
          { checkoutId },
          atPeriodEnd ? { cancelAtPeriodEnd: true } : { subscriptionStatus: 'CANCELLED' },
        );
      return mockEvent('subscription.cancelled', {
        subscription_id: row.subscriptionId,
        cancel_at_period_end: atPeriodEnd,
        ends_at: (atPeriodEnd ? row.periodEnd : new Date()).toISOString(),
      });
    });
  }

  /**
   * The clock reaches the end of the current period: a subscription cancelled at its period's
   * end ends there; any other is renewed, as by `renew`. 409 without an active subscription.
   */
  async endPeriod(checkoutId: string): Promise<MockEvent> {
    return this.act(async (m) => {
      const row = await this.store.lockSubscriptionOrThrow(m, checkoutId);
      if (row.subscriptionStatus === 'CANCELLED') {
        throw new MockProviderRefusal('No active subscription for this checkout', 409);
      }
      if (!row.cancelAtPeriodEnd) return this.renewIn(m, row);
      await m
        .getRepository(MockPayment)
        .update({ checkoutId }, { subscriptionStatus: 'CANCELLED' });
      return mockEvent('subscription.cancelled', {
        subscription_id: row.subscriptionId,
        cancel_at_period_end: false,
        ends_at: row.periodEnd.toISOString(),
      });
    });
  }

  /**
   * Runs a change and records its webhook in one transaction, then makes the webhook's first
   * attempt (a failed one is the sender's to retry).
   */
  private async act(
    change: (manager: EntityManager) => Promise<MockEvent>,
    send = true,
  ): Promise<MockEvent> {
    let delivery: ClaimedDelivery | undefined;
    const event = await this.dataSource.transaction(async (m) => {
      const event = await change(m);
      if (send) delivery = await this.sender.record(m, event);
      return event;
    });
    if (delivery) await this.sender.deliver(delivery);
    return event;
  }

  private async renewIn(m: EntityManager, row: MockSubscriptionRow): Promise<MockEvent> {
    const start = row.periodEnd;
    const end = new Date(start.getTime() + MONTH_MS);
    await m
      .getRepository(MockPayment)
      .update(
        { checkoutId: row.checkoutId },
        { periodStart: start, periodEnd: end, subscriptionStatus: 'ACTIVE' },
      );
    const transactionId = mockId('txn');
    await m.getRepository(MockRenewal).insert({
      transactionId,
      checkoutId: row.checkoutId,
      amountMinor: row.amountMinor,
      currency: row.currency,
    });
    return mockEvent('subscription.renewed', {
      subscription_id: row.subscriptionId,
      transaction_id: transactionId,
      period_start: start.toISOString(),
      period_end: end.toISOString(),
      amount: row.amountMinor,
      currency: row.currency,
    });
  }

  private async refundRenewal(
    m: EntityManager,
    row: MockPayment,
    transactionId: string,
    amountMinor: number | undefined,
  ): Promise<MockEvent> {
    const renewal = await m.getRepository(MockRenewal).findOne({
      where: { transactionId, checkoutId: row.checkoutId },
      lock: { mode: 'pessimistic_write' },
    });
    if (!renewal) throw new MockProviderRefusal('No such payment of this checkout', 404);
    const amount = refundAmount(renewal, amountMinor);
    await m
      .getRepository(MockRenewal)
      .update({ transactionId }, { refundedMinor: renewal.refundedMinor + amount });
    return mockEvent('refund.created', {
      refund_id: mockId('ref'),
      transaction_id: transactionId,
      amount,
      currency: renewal.currency,
    });
  }
}
