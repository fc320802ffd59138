import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import {
  cancelSubscription,
  completeOrder,
  createCheckout,
  handleRedirect,
  listWebhookEvents,
  receiveWebhook,
  reconcileOrder,
  replayWebhookEvent,
  type BillingDeps,
  type WebhookOutcome,
} from '../../src/billing';
import { runTransaction } from '../../src/db';
import { silentLogger } from '../../src/observability';
import { MockProvider, mockSignature, type MockEvent } from '../../src/providers';
import { billingDeps } from '../support/billing';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';

const SECRET = 'use-case-test-secret-0123456789';

/**
 * Each billing use case called directly (no HTTP, no server), on a real database and the
 * mock provider, for each of its outcomes. The mock's own webhooks go to a closed port and
 * are not retried (its sender is not started): the tests hand events to the use cases.
 */
describe('billing use cases', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let provider: MockProvider;
  let deps: BillingDeps;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openTestDataSource(db.url, 6);
    provider = new MockProvider({
      dataSource: ds,
      webhookSecret: SECRET,
      publicUrl: () => 'http://tally.test',
      webhookUrl: () => 'http://127.0.0.1:9/closed',
      logger: silentLogger,
    });
    deps = billingDeps({ dataSource: ds, provider });
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const dashboard = () => provider.fake.dashboard;
  const signed = (event: unknown, secret = SECRET) => {
    const body = JSON.stringify(event);
    return {
      rawBody: Buffer.from(body),
      headers: { 'mock-signature': mockSignature(secret, body) },
    };
  };
  const deliver = (event: unknown): Promise<WebhookOutcome> => receiveWebhook(deps, signed(event));
  const mockEvent = (type: string, data: Record<string, unknown>): MockEvent => ({
    id: `evt_${randomUUID()}`,
    type,
    created_at: new Date().toISOString(),
    data,
  });
  const stored = async (eventId: string) =>
    (
      (await ds.query(
        'SELECT status, error_code, last_error FROM webhook_events WHERE event_id = $1',
        [eventId],
      )) as Array<{ status: string; error_code: string | null; last_error: string | null }>
    )[0];
  const orderStatus = async (id: string) =>
    (
      (await ds.query('SELECT status FROM orders WHERE id = $1', [id])) as Array<{ status: string }>
    )[0]?.status;
  const balance = async (userId: string) =>
    (
      (await ds.query('SELECT credits FROM user_profiles WHERE id = $1', [userId])) as Array<{
        credits: number;
      }>
    )[0]?.credits;
  const buy = async (productId = 'credits-100') => {
    const userId = `uc-${randomUUID()}`;
    const { order } = await createCheckout(deps, { userId, productId });
    return { userId, order, checkoutId: order.checkoutId! };
  };

  describe('receiveWebhook', () => {
    it('bad signature, unreadable body: refused before anything is stored', async () => {
      const event = mockEvent('checkout.cancelled', {
        checkout_id: 'mck_x',
        order_id: randomUUID(),
      });
      expect(await receiveWebhook(deps, signed(event, 'another-secret-0123456789'))).toMatchObject({
        kind: 'bad_signature',
      });
      const junk = Buffer.from('{not json');
      expect(
        await receiveWebhook(deps, {
          rawBody: junk,
          headers: { 'mock-signature': mockSignature(SECRET, junk.toString()) },
        }),
      ).toEqual({ kind: 'bad_payload', reason: 'body is not JSON' });
      expect(await stored(event.id)).toBeUndefined();
    });

    it('applied once, then duplicate; an unknown type is ignored', async () => {
      const { userId, order, checkoutId } = await buy();
      const paid = await dashboard().pay(checkoutId, { sendWebhook: false });
      expect(await deliver(paid)).toMatchObject({
        kind: 'applied',
        eventKind: 'checkout.completed',
      });
      expect(await deliver(paid)).toMatchObject({ kind: 'duplicate', status: 'PROCESSED' });
      expect(await orderStatus(order.id)).toBe('COMPLETED');
      expect(await balance(userId)).toBe(100);
      const unknown = mockEvent('customer.updated', {});
      expect(await deliver(unknown)).toMatchObject({ kind: 'ignored', eventKind: 'ignored' });
      expect(await stored(unknown.id)).toMatchObject({ status: 'IGNORED', error_code: null });
    });

    it('a cancellation of a completed order is an illegal move: IGNORED with its code', async () => {
      const { order, checkoutId } = await buy();
      await deliver(await dashboard().pay(checkoutId, { sendWebhook: false }));
      const late = mockEvent('checkout.cancelled', { checkout_id: checkoutId, order_id: order.id });
      expect(await deliver(late)).toMatchObject({ kind: 'ignored', code: 'ILLEGAL_TRANSITION' });
      expect(await stored(late.id)).toMatchObject({
        status: 'IGNORED',
        error_code: 'ILLEGAL_TRANSITION',
      });
      expect((await stored(late.id))!.last_error).toMatch(
        /COMPLETED: CANCELLED is not a legal move/,
      );
      expect(await orderStatus(order.id)).toBe('COMPLETED');
    });

    it('conditions: each failed event is stored FAILED with its code, retried or not as it says', async () => {
      const { userId, order, checkoutId } = await buy();
      const cases: Array<[MockEvent, string, boolean]> = [
        [
          mockEvent('subscription.past_due', { subscription_id: 'sub_not_yet' }),
          'SUBSCRIPTION_NOT_YET_KNOWN',
          true,
        ],
        [
          mockEvent('refund.created', {
            refund_id: 'ref_early',
            transaction_id: 'txn_not_yet',
            amount: 100,
            currency: 'USD',
          }),
          'PAYMENT_NOT_YET_KNOWN',
          true,
        ],
        [
          mockEvent('checkout.completed', {
            checkout_id: checkoutId,
            order_id: order.id,
            transaction_id: 'txn_short',
            amount: 1,
            currency: 'USD',
          }),
          'PAYMENT_MISMATCH',
          false,
        ],
        [
          mockEvent('checkout.completed', {
            checkout_id: 'mck_elsewhere',
            order_id: randomUUID(),
            transaction_id: 'txn_elsewhere',
            amount: 500,
            currency: 'USD',
          }),
          'ORDER_NOT_KNOWN',
          false,
        ],
      ];
      for (const [event, code, retry] of cases) {
        expect(await deliver(event)).toMatchObject({ kind: 'failed', code, retry });
        expect(await stored(event.id)).toMatchObject({ status: 'FAILED', error_code: code });
      }
      // Nothing was credited on a payment that does not match its order.
      expect(await orderStatus(order.id)).toBe('PENDING');
      expect(await balance(userId)).toBe(0);
      const page = await listWebhookEvents(deps, { first: 50, errorCode: 'PAYMENT_MISMATCH' });
      expect(page.events.map((e) => e.eventId)).toEqual([cases[2]![0].id]);
      expect(page.events[0]).toMatchObject({ status: 'FAILED', errorCode: 'PAYMENT_MISMATCH' });
    });
  });

  describe('replayWebhookEvent', () => {
    it('NOT_FOUND, already applied, and a FAILED event applied once its subscription exists', async () => {
      await expect(replayWebhookEvent(deps, { id: randomUUID() })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      const { userId, checkoutId } = await buy('plan-monthly');
      const paid = await dashboard().pay(checkoutId, { sendWebhook: false });
      const subscriptionId = String(paid.data['subscription_id']);
      const early = mockEvent('subscription.past_due', { subscription_id: subscriptionId });
      expect(await deliver(early)).toMatchObject({ kind: 'failed', retry: true });
      expect(await deliver(paid)).toMatchObject({ kind: 'applied' });
      const [failed] = (await ds.query('SELECT id FROM webhook_events WHERE event_id = $1', [
        early.id,
      ])) as Array<{ id: string }>;
      const replayed = await replayWebhookEvent(deps, { id: failed!.id });
      expect(replayed).toMatchObject({
        kind: 'replayed',
        outcome: { kind: 'applied' },
        event: { status: 'PROCESSED', errorCode: null, lastError: null },
      });
      const again = await replayWebhookEvent(deps, { id: failed!.id });
      expect(again).toMatchObject({ kind: 'already_applied', event: { status: 'PROCESSED' } });
      const [subscription] = (await ds.query(
        'SELECT status FROM subscriptions WHERE user_id = $1',
        [userId],
      )) as Array<{ status: string }>;
      expect(subscription!.status).toBe('PAST_DUE');
    });
  });

  describe('handleRedirect', () => {
    it('refuses bad parameters and unknown orders; settles by what the provider says', async () => {
      await expect(
        handleRedirect(deps, { orderId: 'x', checkoutId: 'mck', status: 'success' }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      const open = await buy();
      await expect(
        handleRedirect(deps, {
          orderId: open.order.id,
          checkoutId: 'mck_other',
          status: 'success',
        }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const ask = { orderId: open.order.id, checkoutId: open.checkoutId };
      expect(await handleRedirect(deps, { ...ask, status: 'cancel' })).toEqual({
        kind: 'pending',
        orderId: open.order.id,
        asked: 'cancel',
      });
      expect(await orderStatus(open.order.id)).toBe('PENDING');
      await dashboard().pay(open.checkoutId, { sendWebhook: false });
      // A forged cancel after paying: the provider's word wins.
      expect(await handleRedirect(deps, { ...ask, status: 'cancel' })).toMatchObject({
        kind: 'paid',
      });
      expect(await balance(open.userId)).toBe(100);
      const gaveUp = await buy();
      await dashboard().cancel(gaveUp.checkoutId);
      expect(
        await handleRedirect(deps, {
          orderId: gaveUp.order.id,
          checkoutId: gaveUp.checkoutId,
          status: 'success',
        }),
      ).toMatchObject({ kind: 'cancelled' });
      expect(await orderStatus(gaveUp.order.id)).toBe('CANCELLED');
    });
  });

  describe('reconcileOrder', () => {
    it('NOT_FOUND, pending, completed, not pending, cancelled', async () => {
      await expect(reconcileOrder(deps, { orderId: randomUUID() })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      const { order, checkoutId, userId } = await buy();
      expect(await reconcileOrder(deps, { orderId: order.id })).toMatchObject({
        kind: 'pending',
        order: { status: 'PENDING' },
      });
      await dashboard().pay(checkoutId, { sendWebhook: false });
      expect(await reconcileOrder(deps, { orderId: order.id })).toMatchObject({
        kind: 'completed',
        order: { status: 'COMPLETED' },
      });
      expect(await reconcileOrder(deps, { orderId: order.id })).toMatchObject({
        kind: 'not_pending',
      });
      expect(await balance(userId)).toBe(100);
      const abandoned = await buy();
      await dashboard().cancel(abandoned.checkoutId);
      expect(await reconcileOrder(deps, { orderId: abandoned.order.id })).toMatchObject({
        kind: 'cancelled',
        providerStatus: 'cancelled',
        order: { status: 'CANCELLED' },
      });
    });
  });

  describe('completeOrder', () => {
    it('completes once; then already settled', async () => {
      const { order, userId } = await buy();
      const payment = { transactionId: `txn_${randomUUID()}`, amountMinor: 500, currency: 'USD' };
      const first = await runTransaction(ds, (manager) =>
        completeOrder(deps, { manager, orderId: order.id, payment }),
      );
      expect(first).toMatchObject({ kind: 'completed', order: { status: 'COMPLETED' } });
      const second = await runTransaction(ds, (manager) =>
        completeOrder(deps, { manager, orderId: order.id, payment }),
      );
      expect(second.kind).toBe('already_settled');
      expect(await balance(userId)).toBe(100);
    });
  });

  describe('renewals', () => {
    it('a charged renewal runs the subscription again: a scheduled cancel is dropped, PAUSED is ACTIVE', async () => {
      const { userId, checkoutId } = await buy('plan-monthly');
      const paid = await dashboard().pay(checkoutId, { sendWebhook: false });
      await deliver(paid);
      const subscriptionId = String(paid.data['subscription_id']);
      const periodEnd = String(paid.data['period_end']);
      const scheduled = mockEvent('subscription.cancelled', {
        subscription_id: subscriptionId,
        cancel_at_period_end: true,
        ends_at: periodEnd,
      });
      expect(await deliver(scheduled)).toMatchObject({ kind: 'applied' });
      await ds.query(`UPDATE subscriptions SET status = 'PAUSED' WHERE user_id = $1`, [userId]);
      const renewed = mockEvent('subscription.renewed', {
        subscription_id: subscriptionId,
        transaction_id: `txn_${randomUUID()}`,
        period_start: periodEnd,
        period_end: new Date(Date.parse(periodEnd) + 30 * 86_400_000).toISOString(),
        amount: 1900,
        currency: 'USD',
      });
      expect(await deliver(renewed)).toMatchObject({ kind: 'applied' });
      const [row] = (await ds.query(
        'SELECT status, cancel_at_period_end, current_period_start FROM subscriptions WHERE user_id = $1',
        [userId],
      )) as Array<{ status: string; cancel_at_period_end: boolean; current_period_start: Date }>;
      expect(row).toMatchObject({ status: 'ACTIVE', cancel_at_period_end: false });
      expect(row!.current_period_start.toISOString()).toBe(periodEnd);
      expect(await balance(userId)).toBe(1000);
    });
  });

  describe('cancelSubscription', () => {
    it('NOT_FOUND without a plan; scheduled at the period end; cancelled now', async () => {
      await expect(
        cancelSubscription(deps, { userId: `nobody-${randomUUID()}`, atPeriodEnd: true }),
      ).rejects.toMatchObject({ code: 'NOT_FOUND' });
      const { userId, checkoutId } = await buy('plan-monthly');
      await deliver(await dashboard().pay(checkoutId, { sendWebhook: false }));
      expect(await cancelSubscription(deps, { userId, atPeriodEnd: true })).toMatchObject({
        kind: 'scheduled',
        subscription: { status: 'ACTIVE', cancelAtPeriodEnd: true },
      });
      expect(await cancelSubscription(deps, { userId, atPeriodEnd: false })).toMatchObject({
        kind: 'cancelled',
        subscription: { status: 'CANCELLED' },
      });
      await expect(cancelSubscription(deps, { userId, atPeriodEnd: false })).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
    });
  });
});
