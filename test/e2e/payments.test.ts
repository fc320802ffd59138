import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Ledger } from '../../src/ledger';
import { mockSignature } from '../../src/providers';
import {
  CancelSubscriptionDocument,
  CreateCheckoutDocument,
  DeductCreditsDocument,
  MyBillingDocument,
  ReconcileOrderDocument,
  ReplayWebhookEventDocument,
  StuckOrdersDocument,
  WebhookEventsDocument,
} from '../generated/graphql';
import { gql } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/server';

/** The purchase flows over real HTTP, with the mock provider's pages, webhooks and dashboard. */
describe('payments with the mock provider', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterEach(async () => {
    expect(await new Ledger(t.server.dataSource).drift()).toEqual([]);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function buyer(): Promise<{ id: string; token: string }> {
    const id = `buyer-${randomUUID()}`;
    return { id, token: await t.token(id) };
  }

  async function checkout(token: string, productId = 'credits-100', idempotencyKey?: string) {
    const res = await gql(t.url, CreateCheckoutDocument, {
      token,
      variables: { input: { productId, ...(idempotencyKey ? { idempotencyKey } : {}) } },
    });
    return res;
  }

  async function open(token: string, productId = 'credits-100') {
    const res = await checkout(token, productId);
    expect(res.errors).toBeUndefined();
    const { order, checkoutUrl } = res.data!.createCheckout;
    return { orderId: order.id, checkoutId: order.checkoutId!, checkoutUrl };
  }

  const billing = async (token: string) =>
    (await gql(t.url, MyBillingDocument, { token })).data!.me;

  const rows = async (sql: string, params: unknown[]) =>
    (await t.server.dataSource.query(sql, params)) as Array<Record<string, unknown>>;

  /** Follows the browser's journey: submit a form on the checkout page, then the redirect. */
  async function clickOnPage(checkoutId: string, button: 'pay' | 'cancel') {
    const res = await request(t.url).post(`/mock-checkout/${checkoutId}/${button}`).type('form');
    expect(res.status).toBe(303);
    const back = new URL(res.headers['location'] as string);
    expect(back.pathname).toBe('/api/payment/callback');
    return request(t.url).get(`${back.pathname}${back.search}`);
  }

  /** Delivers a webhook as the provider would, signed with the configured secret. */
  const deliver = (event: unknown, options: { secret?: string; at?: number } = {}) => {
    const body = JSON.stringify(event);
    return request(t.url)
      .post('/api/payment/callback')
      .set('content-type', 'application/json')
      .set(
        'mock-signature',
        mockSignature(options.secret ?? t.config.mockWebhookSecret, body, options.at),
      )
      .send(body);
  };

  describe('createCheckout', () => {
    it('needs a user token, a known product; a key returns the same order', async () => {
      const anonymous = await gql(t.url, CreateCheckoutDocument, {
        variables: { input: { productId: 'credits-100' } },
      });
      expect(anonymous.status).toBe(401);
      const user = await buyer();
      const unknown = await checkout(user.token, 'credits-999');
      expect(unknown.status).toBe(404);
      expect(unknown.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
      const [a, b] = await Promise.all([
        checkout(user.token, 'credits-100', 'cart-1'),
        checkout(user.token, 'credits-100', 'cart-1'),
      ]);
      expect(a.data!.createCheckout.order.id).toBe(b.data!.createCheckout.order.id);
      expect(a.data!.createCheckout.checkoutUrl).toBe(b.data!.createCheckout.checkoutUrl);
      expect(a.data!.createCheckout.order).toMatchObject({
        status: 'PENDING',
        amount: 500,
        currency: 'USD',
        credits: 100,
      });
      const other = await checkout(user.token, 'credits-1000', 'cart-1');
      expect(other.errors?.[0]?.extensions?.['code']).toBe('IDEMPOTENCY_KEY_REUSED');
    });
  });

  describe('a credit pack', () => {
    it('pay on the hosted page: credited once, a PURCHASE row, 303s to the success page', async () => {
      const user = await buyer();
      const { orderId, checkoutId, checkoutUrl } = await open(user.token);
      const page = await request(checkoutUrl).get('');
      expect(page.status).toBe(200);
      const back = await clickOnPage(checkoutId, 'pay');
      expect(back.status).toBe(303);
      expect(back.headers['location']).toBe(`${t.url}/checkout/success?order_id=${orderId}`);
      // Both the webhook and the redirect completed it: credited once.
      const me = await billing(user.token);
      expect(me.credits).toBe(100);
      expect(me.orders.edges[0]!.node).toMatchObject({ id: orderId, status: 'COMPLETED' });
      const purchases = await rows(
        `SELECT amount, balance_after, order_id FROM credit_transactions WHERE user_id = $1`,
        [user.id],
      );
      expect(purchases).toEqual([{ amount: 100, balance_after: 100, order_id: orderId }]);
      const events = await rows(
        `SELECT type, status FROM webhook_events WHERE payload->'data'->>'order_id' = $1`,
        [orderId],
      );
      expect(events).toEqual([{ type: 'checkout.completed', status: 'PROCESSED' }]);
    });

    it('cancel on the hosted page: order CANCELLED, 303 to the cancel page, nothing credited', async () => {
      const user = await buyer();
      const { orderId, checkoutId } = await open(user.token);
      const back = await clickOnPage(checkoutId, 'cancel');
      expect(back.status).toBe(303);
      expect(back.headers['location']).toBe(`${t.url}/checkout/cancel?order_id=${orderId}`);
      const me = await billing(user.token);
      expect(me.credits).toBe(0);
      expect(me.orders.edges[0]!.node.status).toBe('CANCELLED');
    });

    it('a forged success redirect credits nothing: Tally asks the provider', async () => {
      const user = await buyer();
      const { orderId, checkoutId } = await open(user.token);
      const forged = await request(t.url)
        .get('/api/payment/callback')
        .query({ order_id: orderId, checkout_id: checkoutId, status: 'success' });
      expect(forged.status).toBe(303);
      expect((await billing(user.token)).credits).toBe(0);
      expect((await billing(user.token)).orders.edges[0]!.node.status).toBe('PENDING');
      const mismatched = await request(t.url).get('/api/payment/callback').query({
        order_id: orderId,
        checkout_id: 'mck_000000000000000000000000',
        status: 'success',
      });
      expect(mismatched.status).toBe(404);
      for (const query of [
        {},
        { order_id: 'x', checkout_id: checkoutId, status: 'success' },
        { order_id: orderId, checkout_id: checkoutId, status: 'paid' },
      ]) {
        expect((await request(t.url).get('/api/payment/callback').query(query)).status).toBe(400);
      }
    });

    it('a forged cancel redirect cancels nothing: only the provider cancels an order', async () => {
      const user = await buyer();
      const { orderId, checkoutId } = await open(user.token);
      // Anyone can send a browser here (a link or an image on any page): before, this
      // cancelled the order while its checkout was still open at the provider.
      const forged = await request(t.url)
        .get('/api/payment/callback')
        .query({ order_id: orderId, checkout_id: checkoutId, status: 'cancel' });
      expect(forged.status).toBe(303);
      expect(forged.headers['location']).toBe(`${t.url}/checkout/cancel?order_id=${orderId}`);
      expect((await billing(user.token)).orders.edges[0]!.node.status).toBe('PENDING');
      // The checkout is still good: paying it completes the order.
      const back = await clickOnPage(checkoutId, 'pay');
      expect(back.status).toBe(303);
      const me = await billing(user.token);
      expect(me.orders.edges[0]!.node.status).toBe('COMPLETED');
      expect(me.credits).toBe(100);
    });

    it('a lost webhook: the redirect verifies with the provider and credits once', async () => {
      const user = await buyer();
      const { orderId, checkoutId } = await open(user.token);
      const paid = await request(t.url)
        .post(`/mock-checkout/${checkoutId}/pay`)
        .send({ sendWebhook: false });
      expect(paid.status).toBe(200);
      expect((await billing(user.token)).credits).toBe(0);
      const back = await request(t.url)
        .get('/api/payment/callback')
        .query({ order_id: orderId, checkout_id: checkoutId, status: 'success' });
      expect(back.status).toBe(303);
      expect((await billing(user.token)).credits).toBe(100);
      // The delivery arrives late after all: nothing more.
      expect((await deliver(paid.body.event)).status).toBe(200);
      expect((await billing(user.token)).credits).toBe(100);
    });
  });

  describe('webhooks', () => {
    it('20 concurrent deliveries of one event credit once', async () => {
      const user = await buyer();
      const { checkoutId } = await open(user.token);
      const paid = await request(t.url)
        .post(`/mock-checkout/${checkoutId}/pay`)
        .send({ sendWebhook: false });
      const results = await Promise.all(Array.from({ length: 20 }, () => deliver(paid.body.event)));
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(results.filter((r) => r.body.duplicate === false)).toHaveLength(1);
      expect((await billing(user.token)).credits).toBe(100);
      const events = await rows(`SELECT status FROM webhook_events WHERE event_id = $1`, [
        paid.body.event.id,
      ]);
      expect(events).toEqual([{ status: 'PROCESSED' }]);
    });

    it('bad, stale or missing signatures are 401 and store nothing', async () => {
      const event = {
        id: `evt_${randomUUID()}`,
        type: 'checkout.cancelled',
        created_at: new Date().toISOString(),
        data: { checkout_id: 'mck_x', order_id: randomUUID() },
      };
      expect((await deliver(event, { secret: 'not-the-secret' })).status).toBe(401);
      expect((await deliver(event, { at: Date.now() - 600_000 })).status).toBe(401);
      const unsigned = await request(t.url)
        .post('/api/payment/callback')
        .set('content-type', 'application/json')
        .send(JSON.stringify(event));
      expect(unsigned.status).toBe(401);
      expect(await rows(`SELECT 1 FROM webhook_events WHERE event_id = $1`, [event.id])).toEqual(
        [],
      );
    });

    it('malformed JSON is 400, an oversized body 413, an unknown event type 200', async () => {
      const raw = '{"id": "evt_broken", ';
      const malformed = await request(t.url)
        .post('/api/payment/callback')
        .set('content-type', 'application/json')
        .set('mock-signature', mockSignature(t.config.mockWebhookSecret, raw))
        .send(raw);
      expect(malformed.status).toBe(400);
      const huge = await request(t.url)
        .post('/api/payment/callback')
        .set('content-type', 'application/json')
        .send(JSON.stringify({ padding: 'x'.repeat(70_000) }));
      expect(huge.status).toBe(413);
      const unknown = {
        id: `evt_${randomUUID()}`,
        type: 'payout.paid',
        created_at: new Date().toISOString(),
        data: {},
      };
      const res = await deliver(unknown);
      expect(res.status).toBe(200);
      expect(
        await rows(`SELECT status FROM webhook_events WHERE event_id = $1`, [unknown.id]),
      ).toEqual([{ status: 'IGNORED' }]);
    });
  });

  describe('refunds', () => {
    async function paidPack(user: { token: string }) {
      const { orderId, checkoutId } = await open(user.token);
      await request(t.url).post(`/mock-checkout/${checkoutId}/pay`).send({});
      return { orderId, checkoutId };
    }

    it('before spending: the credits go back; the order is REFUNDED; a repeat changes nothing', async () => {
      const user = await buyer();
      const { orderId, checkoutId } = await paidPack(user);
      const refund = await request(t.url).post(`/mock-checkout/${checkoutId}/refund`).send({});
      expect(refund.status).toBe(200);
      const me = await billing(user.token);
      expect(me.credits).toBe(0);
      expect(me.orders.edges.find((e) => e.node.id === orderId)!.node.status).toBe('REFUNDED');
      expect((await deliver(refund.body.event)).status).toBe(200);
      expect((await billing(user.token)).credits).toBe(0);
      // The provider refuses a second refund of the same payment.
      expect(
        (await request(t.url).post(`/mock-checkout/${checkoutId}/refund`).send({})).status,
      ).toBe(409);
    });

    it('after spending: the clawback takes the balance below zero, and spending stops', async () => {
      const user = await buyer();
      const { checkoutId } = await paidPack(user);
      const service = await t.token('app', 'service');
      const spend = await gql(t.url, DeductCreditsDocument, {
        token: service,
        variables: {
          input: { userId: user.id, amount: 80, description: 'render', idempotencyKey: 'r1' },
        },
      });
      expect(spend.data?.deductCredits.balance).toBe(20);
      await request(t.url).post(`/mock-checkout/${checkoutId}/refund`).send({});
      expect((await billing(user.token)).credits).toBe(-80);
      const blocked = await gql(t.url, DeductCreditsDocument, {
        token: service,
        variables: {
          input: { userId: user.id, amount: 1, description: 'render', idempotencyKey: 'r2' },
        },
      });
      expect(blocked.errors?.[0]?.extensions?.['code']).toBe('INSUFFICIENT_CREDITS');
    });

    it('partial refunds take back credits in proportion, and all of them in the end', async () => {
      const user = await buyer();
      const { orderId, checkoutId } = await paidPack(user);
      await request(t.url).post(`/mock-checkout/${checkoutId}/refund`).send({ amount: 125 });
      expect((await billing(user.token)).credits).toBe(75);
      await request(t.url).post(`/mock-checkout/${checkoutId}/refund`).send({ amount: 333 });
      // 458 of 500 refunded: floor(100 × 458 / 500) = 91 taken in total.
      expect((await billing(user.token)).credits).toBe(9);
      await request(t.url).post(`/mock-checkout/${checkoutId}/refund`).send({});
      const me = await billing(user.token);
      expect(me.credits).toBe(0);
      expect(me.orders.edges.find((e) => e.node.id === orderId)!.node.status).toBe('REFUNDED');
    });
    it("a renewal's payment is refunded on its own: that period's credits, once", async () => {
      const user = await buyer();
      const { orderId, checkoutId } = await open(user.token, 'plan-monthly');
      await request(t.url).post(`/mock-checkout/${checkoutId}/pay`).send({});
      const renewed = await request(t.url).post(`/mock-checkout/${checkoutId}/renew`).send({});
      expect(renewed.status).toBe(200);
      const renewalTx = renewed.body.event.data.transaction_id as string;
      expect(renewed.body.event.data).toMatchObject({ amount: 1900, currency: 'USD' });
      expect((await billing(user.token)).credits).toBe(1000);
      expect(
        await rows(
          `SELECT amount_minor, credits, refunded_minor FROM subscription_payments
           WHERE provider_transaction_id = $1`,
          [renewalTx],
        ),
      ).toEqual([{ amount_minor: 1900, credits: 500, refunded_minor: 0 }]);

      const refund = await request(t.url)
        .post(`/mock-checkout/${checkoutId}/refund`)
        .send({ transaction_id: renewalTx });
      expect(refund.status).toBe(200);
      expect((await billing(user.token)).credits).toBe(500);
      // Delivered again: nothing more taken. The provider refuses a second refund of it.
      expect((await deliver(refund.body.event)).status).toBe(200);
      expect((await billing(user.token)).credits).toBe(500);
      expect(
        (
          await request(t.url)
            .post(`/mock-checkout/${checkoutId}/refund`)
            .send({ transaction_id: renewalTx })
        ).status,
      ).toBe(409);
      const clawback = await rows(
        `SELECT c.amount, c.order_id, s.provider_subscription_id AS sub
         FROM credit_transactions c JOIN subscriptions s ON s.id = c.subscription_id
         WHERE c.user_id = $1 AND c.type = 'CLAWBACK'`,
        [user.id],
      );
      expect(clawback).toEqual([
        { amount: -500, order_id: null, sub: renewed.body.event.data.subscription_id },
      ]);
      // The first payment's refund goes through its order, which alone becomes REFUNDED.
      await request(t.url).post(`/mock-checkout/${checkoutId}/refund`).send({});
      const me = await billing(user.token);
      expect(me.credits).toBe(0);
      expect(me.orders.edges.find((e) => e.node.id === orderId)!.node.status).toBe('REFUNDED');

      // A partial refund of the next renewal: floor(500 × 950 / 1900) = 250.
      const next = await request(t.url).post(`/mock-checkout/${checkoutId}/renew`).send({});
      await request(t.url)
        .post(`/mock-checkout/${checkoutId}/refund`)
        .send({ transaction_id: next.body.event.data.transaction_id, amount: 950 });
      expect((await billing(user.token)).credits).toBe(250);
      // A payment of another checkout cannot be refunded through this one.
      const other = await request(t.url)
        .post(`/mock-checkout/${checkoutId}/refund`)
        .send({ transaction_id: 'txn_not_here' });
      expect(other.status).toBe(404);
    });

    it('a refund in another currency than its payment is not applied, and says why', async () => {
      const user = await buyer();
      const { checkoutId } = await paidPack(user);
      const mock = await t.server.dataSource.query(
        'SELECT transaction_id FROM mock_payments WHERE checkout_id = $1',
        [checkoutId],
      );
      const refund = {
        id: `evt_${randomUUID()}`,
        type: 'refund.created',
        created_at: new Date().toISOString(),
        data: {
          refund_id: `ref_${randomUUID()}`,
          transaction_id: mock[0].transaction_id,
          amount: 500,
          currency: 'EUR',
        },
      };
      expect((await deliver(refund)).status).toBe(500);
      const [stored] = await rows(
        `SELECT status, last_error FROM webhook_events WHERE event_id = $1`,
        [refund.id],
      );
      expect(stored).toMatchObject({ status: 'FAILED' });
      expect(stored!['last_error']).toMatch(/is in EUR, its payment .* in USD: not applied/);
      // Before, the EUR amount was taken as USD cents: all 100 credits clawed back.
      const me = await billing(user.token);
      expect(me.credits).toBe(100);
      expect(me.orders.edges[0]!.node.status).toBe('COMPLETED');
    });

    it('found by fuzzing: signed events Tally cannot store or hold are refused (400), nothing stored', async () => {
      const user = await buyer();
      const { checkoutId } = await paidPack(user);
      const [mock] = await t.server.dataSource.query(
        'SELECT transaction_id FROM mock_payments WHERE checkout_id = $1',
        [checkoutId],
      );
      const event = (type: string, data: Record<string, unknown>) => ({
        id: `evt_${randomUUID()}`,
        type,
        created_at: new Date().toISOString(),
        data,
      });
      const cases = [
        // Before: 500 and stored nowhere (PostgreSQL refuses NUL and lone surrogates).
        event('subscription.past_due', { subscription_id: 'sub_\u0000' }),
        event('subscription.past_due', { subscription_id: 'sub_\ud800' }),
        // Before: 500, stored FAILED and retried forever (integer out of range).
        event('refund.created', {
          refund_id: `ref_${randomUUID()}`,
          transaction_id: mock.transaction_id,
          amount: 2_147_483_648,
          currency: 'USD',
        }),
        // Before: 500 (the period CHECK), retried forever.
        event('subscription.renewed', {
          subscription_id: 'sub_x',
          transaction_id: `txn_${randomUUID()}`,
          period_start: '2027-02-01T00:00:00Z',
          period_end: '2027-01-01T00:00:00Z',
        }),
      ];
      for (const body of cases) {
        const raw = JSON.stringify(body).replace(/\\\\u/g, '\\u');
        const res = await request(t.url)
          .post('/api/payment/callback')
          .set('content-type', 'application/json')
          .set('mock-signature', mockSignature(t.config.mockWebhookSecret, raw))
          .send(raw);
        expect({ type: body.type, status: res.status }).toEqual({ type: body.type, status: 400 });
        expect(await rows('SELECT 1 FROM webhook_events WHERE event_id = $1', [body.id])).toEqual(
          [],
        );
      }
      expect((await billing(user.token)).credits).toBe(100);
    });

    it('a signed event whose type names a member of every object is an unknown type: 200', async () => {
      // A lookup by `in` found `toString` and `__proto__` on the prototype: 500 before.
      for (const type of ['toString', '__proto__', 'constructor', 'hasOwnProperty']) {
        const res = await deliver({
          id: `evt_${randomUUID()}`,
          type,
          created_at: new Date().toISOString(),
          data: {},
        });
        expect({ type, status: res.status, body: res.body }).toMatchObject({
          type,
          status: 200,
          body: { status: 'IGNORED' },
        });
      }
    });

    it('a refund before its renewal payment is recorded fails, and applies once it is', async () => {
      const user = await buyer();
      const { checkoutId } = await open(user.token, 'plan-monthly');
      const paid = await request(t.url).post(`/mock-checkout/${checkoutId}/pay`).send({});
      const { subscription_id, period_end } = paid.body.event.data;
      const transactionId = `txn_${randomUUID()}`;
      const renewal = {
        id: `evt_${randomUUID()}`,
        type: 'subscription.renewed',
        created_at: new Date().toISOString(),
        data: {
          subscription_id,
          transaction_id: transactionId,
          period_start: period_end,
          period_end: new Date(Date.parse(period_end) + 30 * 86_400_000).toISOString(),
          amount: 1900,
          currency: 'USD',
        },
      };
      const refund = {
        id: `evt_${randomUUID()}`,
        type: 'refund.created',
        created_at: new Date().toISOString(),
        data: {
          refund_id: `ref_${randomUUID()}`,
          transaction_id: transactionId,
          amount: 1900,
          currency: 'USD',
        },
      };
      expect((await deliver(refund)).status).toBe(500);
      const [stored] = await rows(
        `SELECT status, last_error FROM webhook_events WHERE event_id = $1`,
        [refund.id],
      );
      expect(stored).toMatchObject({ status: 'FAILED' });
      expect(stored!['last_error']).toMatch(/unknown payment/);
      expect((await billing(user.token)).credits).toBe(500);
      expect((await deliver(renewal)).status).toBe(200);
      expect((await billing(user.token)).credits).toBe(1000);
      // The provider's retry: applied now, and only once.
      expect((await deliver(refund)).status).toBe(200);
      expect((await deliver(refund)).status).toBe(200);
      expect((await billing(user.token)).credits).toBe(500);
    });
  });

  describe('reconciliation', () => {
    it('a lost webhook shows in stuckOrders; reconcileOrder completes it once', async () => {
      const user = await buyer();
      const admin = await t.token('ops', 'admin');
      const { orderId, checkoutId } = await open(user.token);
      await request(t.url).post(`/mock-checkout/${checkoutId}/pay`).send({ sendWebhook: false });
      const stuck = await gql(t.url, StuckOrdersDocument, {
        token: admin,
        variables: { olderThanMinutes: 0 },
      });
      expect(stuck.data?.stuckOrders.map((o) => o.id)).toContain(orderId);
      const forbidden = await gql(t.url, ReconcileOrderDocument, {
        token: user.token,
        variables: { orderId },
      });
      expect(forbidden.status).toBe(403);
      const [first, second] = await Promise.all([
        gql(t.url, ReconcileOrderDocument, { token: admin, variables: { orderId } }),
        gql(t.url, ReconcileOrderDocument, { token: admin, variables: { orderId } }),
      ]);
      expect(first.data?.reconcileOrder.status).toBe('COMPLETED');
      expect(second.data?.reconcileOrder.status).toBe('COMPLETED');
      expect((await billing(user.token)).credits).toBe(100);
      const after = await gql(t.url, StuckOrdersDocument, {
        token: admin,
        variables: { olderThanMinutes: 0 },
      });
      expect(after.data?.stuckOrders.map((o) => o.id)).not.toContain(orderId);
      const unknown = await gql(t.url, ReconcileOrderDocument, {
        token: admin,
        variables: { orderId: randomUUID() },
      });
      expect(unknown.status).toBe(404);
    });

    it('an abandoned checkout reconciles to CANCELLED once the provider says so', async () => {
      const user = await buyer();
      const admin = await t.token('ops', 'admin');
      const { orderId, checkoutId } = await open(user.token);
      const open1 = await gql(t.url, ReconcileOrderDocument, {
        token: admin,
        variables: { orderId },
      });
      expect(open1.data?.reconcileOrder.status).toBe('PENDING');
      await t.server.dataSource.query(
        `UPDATE mock_payments SET status = 'CANCELLED' WHERE checkout_id = $1`,
        [checkoutId],
      );
      const done = await gql(t.url, ReconcileOrderDocument, {
        token: admin,
        variables: { orderId },
      });
      expect(done.data?.reconcileOrder.status).toBe('CANCELLED');
    });
  });

  describe('a subscription', () => {
    it('cancelSubscription: at period end by default, or now; 404 without one', async () => {
      const user = await buyer();
      const none = await gql(t.url, CancelSubscriptionDocument, { token: user.token });
      expect(none.status).toBe(404);
      const { checkoutId } = await open(user.token, 'plan-monthly');
      await clickOnPage(checkoutId, 'pay');
      const later = await gql(t.url, CancelSubscriptionDocument, { token: user.token });
      expect(later.data?.cancelSubscription).toMatchObject({
        status: 'ACTIVE',
        cancelAtPeriodEnd: true,
      });
      expect((await billing(user.token)).plan).toBe('plan-monthly');
      const now = await gql(t.url, CancelSubscriptionDocument, {
        token: user.token,
        variables: { input: { atPeriodEnd: false } },
      });
      expect(now.data?.cancelSubscription.status).toBe('CANCELLED');
      const me = await billing(user.token);
      expect(me.plan).toBe('free');
      expect(me.subscription).toBeNull();
    });

    it('a second plan is refused while one is active or past due; packs are not', async () => {
      const user = await buyer();
      const { checkoutId } = await open(user.token, 'plan-monthly');
      await clickOnPage(checkoutId, 'pay');
      const orders = async () =>
        (await rows('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [user.id]))[0]![
          'n'
        ];
      const before = await orders();
      const again = await checkout(user.token, 'plan-monthly');
      expect(again.status).toBe(409);
      expect(again.errors?.[0]?.extensions?.['code']).toBe('ALREADY_SUBSCRIBED');
      expect(await orders()).toBe(before);
      expect((await checkout(user.token, 'credits-100')).status).toBe(200);
      // Cancelled at the period end, it is still paid for until then.
      await gql(t.url, CancelSubscriptionDocument, { token: user.token });
      expect((await checkout(user.token, 'plan-monthly')).status).toBe(409);
      await rows(`UPDATE subscriptions SET status = 'PAST_DUE' WHERE user_id = $1`, [user.id]);
      expect((await checkout(user.token, 'plan-monthly')).status).toBe(409);
      await gql(t.url, CancelSubscriptionDocument, {
        token: user.token,
        variables: { input: { atPeriodEnd: false } },
      });
      const fresh = await checkout(user.token, 'plan-monthly');
      expect(fresh.status).toBe(200);
      expect(fresh.data?.createCheckout.order.status).toBe('PENDING');
    });

    it('plan checkouts at once share one payment page; a retried key still gets its order', async () => {
      const user = await buyer();
      // Two tabs, a double click: eight requests, some with keys, none waiting for another.
      const started = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          checkout(user.token, 'plan-monthly', i % 2 === 0 ? `tab-${i}` : undefined),
        ),
      );
      expect(started.map((r) => r.status)).toEqual(Array(8).fill(200));
      const orderIds = new Set(started.map((r) => r.data!.createCheckout.order.id));
      expect(orderIds.size).toBe(1);
      const urls = new Set(started.map((r) => r.data!.createCheckout.checkoutUrl));
      expect(urls.size).toBe(1);
      const plans = await rows(
        `SELECT count(*)::int AS n FROM orders WHERE user_id = $1 AND kind = 'SUBSCRIPTION'`,
        [user.id],
      );
      expect(plans[0]!['n']).toBe(1);
      const [orderId] = [...orderIds];
      const checkoutId = started[0]!.data!.createCheckout.order.checkoutId!;
      await clickOnPage(checkoutId, 'pay');
      expect((await billing(user.token)).credits).toBe(500);
      // The first request's retry, after the plan started: its own order, not a refusal.
      const retried = await checkout(user.token, 'plan-monthly', 'tab-0');
      expect(retried.status).toBe(200);
      expect(retried.data?.createCheckout.order).toMatchObject({
        id: orderId,
        status: 'COMPLETED',
      });
      // A new key is a new plan: refused.
      expect((await checkout(user.token, 'plan-monthly', 'tab-new')).status).toBe(409);
    });

    it('cancelled at period end, then the period ends: free, CANCELLED, and a new plan may start', async () => {
      const user = await buyer();
      const { checkoutId } = await open(user.token, 'plan-monthly');
      await clickOnPage(checkoutId, 'pay');
      await gql(t.url, CancelSubscriptionDocument, { token: user.token });
      expect((await checkout(user.token, 'plan-monthly')).status).toBe(409);
      const ended = await request(t.url).post(`/mock-checkout/${checkoutId}/end-period`).send({});
      expect(ended.status).toBe(200);
      expect(ended.body.event).toMatchObject({
        type: 'subscription.cancelled',
        data: { cancel_at_period_end: false },
      });
      const me = await billing(user.token);
      expect(me.plan).toBe('free');
      expect(me.subscription).toBeNull();
      const [row] = await rows('SELECT status FROM subscriptions WHERE user_id = $1', [user.id]);
      expect(row!['status']).toBe('CANCELLED');
      const fresh = await checkout(user.token, 'plan-monthly');
      expect(fresh.status).toBe(200);
      expect(fresh.data?.createCheckout.order.status).toBe('PENDING');
    });

    it('the final event lost and the period passed: every reader agrees the plan is over', async () => {
      const user = await buyer();
      const { checkoutId } = await open(user.token, 'plan-monthly');
      await clickOnPage(checkoutId, 'pay');
      await gql(t.url, CancelSubscriptionDocument, { token: user.token });
      // The period ends and the provider's final cancellation never arrives.
      await rows(
        `UPDATE subscriptions SET current_period_start = now() - interval '31 days',
           current_period_end = now() - interval '1 second' WHERE user_id = $1`,
        [user.id],
      );
      const [row] = await rows('SELECT status FROM subscriptions WHERE user_id = $1', [user.id]);
      expect(row!['status']).toBe('ACTIVE');
      const me = await billing(user.token);
      expect(me.plan).toBe('free');
      expect(me.subscription).toBeNull();
      const again = await open(user.token, 'plan-monthly');
      const conflictsBefore = (await request(t.url).get('/metrics')).text.match(
        /^tally_subscription_conflicts_total (\d+)$/m,
      )?.[1];
      await clickOnPage(again.checkoutId, 'pay');
      // Completion reads the same rule: the lapsed plan is no second subscription.
      const conflictsAfter = (await request(t.url).get('/metrics')).text.match(
        /^tally_subscription_conflicts_total (\d+)$/m,
      )?.[1];
      expect(conflictsAfter).toBe(conflictsBefore);
      const now = await billing(user.token);
      expect(now.plan).toBe('plan-monthly');
      expect(now.subscription).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: false });
      expect(now.credits).toBe(1000);
    });

    it('a plan the provider completes beside another is started, and flagged critical', async () => {
      const user = await buyer();
      const { checkoutId } = await open(user.token, 'plan-monthly');
      // A subscription that began elsewhere (the provider's dashboard, an older release).
      await rows(
        `INSERT INTO subscriptions (user_id, product_id, provider, provider_subscription_id,
           status, current_period_start, current_period_end)
         VALUES ($1, 'plan-monthly', 'mock', $2, 'ACTIVE', now(), now() + interval '1 month')`,
        [user.id, `sub_elsewhere_${randomUUID()}`],
      );
      await clickOnPage(checkoutId, 'pay');
      // The money was taken: the plan's credits are granted, and an operator is told.
      expect((await billing(user.token)).credits).toBe(500);
      const flagged = t.logs.filter(
        (line) =>
          String(line['msg']).startsWith('critical: a second active subscription') &&
          line['userId'] === user.id,
      );
      expect(flagged).toHaveLength(1);
      // Counted too, for the TallySecondSubscription alert.
      const metrics = await request(t.url).get('/metrics');
      expect(metrics.text).toMatch(/^tally_subscription_conflicts_total 1$/m);
    });

    it('a renewal before its subscription: FAILED, then replayed by an admin once it exists', async () => {
      const user = await buyer();
      const admin = await t.token('ops', 'admin');
      const { checkoutId } = await open(user.token, 'plan-monthly');
      const paid = await request(t.url)
        .post(`/mock-checkout/${checkoutId}/pay`)
        .send({ sendWebhook: false });
      const { subscription_id, period_end } = paid.body.event.data;
      const renewal = {
        id: `evt_${randomUUID()}`,
        type: 'subscription.renewed',
        created_at: new Date().toISOString(),
        data: {
          subscription_id,
          transaction_id: `txn_${randomUUID()}`,
          period_start: period_end,
          period_end: new Date(Date.parse(period_end) + 30 * 86_400_000).toISOString(),
        },
      };
      expect((await deliver(renewal)).status).toBe(500);
      const failed = await gql(t.url, WebhookEventsDocument, {
        token: admin,
        variables: { status: 'FAILED', errorCode: 'SUBSCRIPTION_NOT_YET_KNOWN', first: 100 },
      });
      const stored = failed.data!.webhookEvents.edges.find((e) => e.node.eventId === renewal.id)!;
      expect(stored.node).toMatchObject({
        status: 'FAILED',
        attempts: 1,
        errorCode: 'SUBSCRIPTION_NOT_YET_KNOWN',
      });
      expect(stored.node.lastError).toMatch(/unknown subscription/);
      // Filtered by code: no event of another condition is listed.
      expect(
        failed.data!.webhookEvents.edges.every(
          (e) => e.node.errorCode === 'SUBSCRIPTION_NOT_YET_KNOWN',
        ),
      ).toBe(true);
      const other = await gql(t.url, WebhookEventsDocument, {
        token: admin,
        variables: { errorCode: 'PAYMENT_MISMATCH', first: 100 },
      });
      expect(other.data!.webhookEvents.edges.map((e) => e.node.eventId)).not.toContain(renewal.id);
      const malformed = await gql(t.url, WebhookEventsDocument, {
        token: admin,
        variables: { errorCode: "x'; DROP TABLE orders; --" },
      });
      expect(malformed.status).toBe(400);
      // The creation arrives; the admin replays the renewal: two periods granted, once each.
      expect((await deliver(paid.body.event)).status).toBe(200);
      const replayed = await gql(t.url, ReplayWebhookEventDocument, {
        token: admin,
        variables: { id: stored.node.id },
      });
      expect(replayed.data?.replayWebhookEvent).toMatchObject({
        status: 'PROCESSED',
        attempts: 2,
        errorCode: null,
      });
      const again = await gql(t.url, ReplayWebhookEventDocument, {
        token: admin,
        variables: { id: stored.node.id },
      });
      expect(again.data?.replayWebhookEvent.status).toBe('PROCESSED');
      const me = await billing(user.token);
      expect(me.credits).toBe(1000);
      expect(me.subscription!.currentPeriodStart).toBe(period_end);
      const userCannot = await gql(t.url, WebhookEventsDocument, { token: user.token });
      expect(userCannot.status).toBe(403);
    });

    it('a past-due notice before the subscription exists is retried, not lost', async () => {
      const user = await buyer();
      const { checkoutId } = await open(user.token, 'plan-monthly');
      const paid = await request(t.url)
        .post(`/mock-checkout/${checkoutId}/pay`)
        .send({ sendWebhook: false });
      const early = {
        id: `evt_${randomUUID()}`,
        type: 'subscription.past_due',
        created_at: new Date().toISOString(),
        data: { subscription_id: paid.body.event.data.subscription_id },
      };
      expect((await deliver(early)).status).toBe(500);
      expect((await deliver(paid.body.event)).status).toBe(200);
      // The provider's retry of the early event now applies.
      expect((await deliver(early)).status).toBe(200);
      const me = await billing(user.token);
      expect(me.subscription!.status).toBe('PAST_DUE');
      expect(me.credits).toBe(500);
    });

    it('events out of order converge on the latest the provider describes, never regress', async () => {
      const user = await buyer();
      const { checkoutId } = await open(user.token, 'plan-monthly');
      const paid = await request(t.url).post(`/mock-checkout/${checkoutId}/pay`).send({});
      const { subscription_id, period_end } = paid.body.event.data;
      const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
      const renewal = (start: string, createdAt: string) => ({
        id: `evt_${randomUUID()}`,
        type: 'subscription.renewed',
        created_at: createdAt,
        data: {
          subscription_id,
          transaction_id: `txn_${randomUUID()}`,
          period_start: start,
          period_end: new Date(Date.parse(start) + 30 * 86_400_000).toISOString(),
        },
      });
      const pastDue = (createdAt: string) => ({
        id: `evt_${randomUUID()}`,
        type: 'subscription.past_due',
        created_at: createdAt,
        data: { subscription_id },
      });
      // A renewal that happened a minute ago arrives after a past-due notice of now.
      expect((await deliver(pastDue(at(0)))).status).toBe(200);
      expect((await deliver(renewal(period_end, at(-60_000)))).status).toBe(200);
      let me = await billing(user.token);
      expect(me.subscription!.status).toBe('PAST_DUE');
      expect(me.credits).toBe(1000);
      // A newer renewal settles it; then a stale past-due notice changes nothing.
      const third = new Date(Date.parse(period_end) + 30 * 86_400_000).toISOString();
      expect((await deliver(renewal(third, at(1000)))).status).toBe(200);
      expect((await deliver(pastDue(at(-120_000)))).status).toBe(200);
      me = await billing(user.token);
      expect(me.subscription!.status).toBe('ACTIVE');
      expect(me.subscription!.currentPeriodStart).toBe(third);
      expect(me.credits).toBe(1500);
    });

    it('purchase, three renewals, a duplicate renewal, past due, cancel at period end', async () => {
      const user = await buyer();
      const { checkoutId } = await open(user.token, 'plan-monthly');
      await clickOnPage(checkoutId, 'pay');
      let me = await billing(user.token);
      expect(me.plan).toBe('plan-monthly');
      expect(me.credits).toBe(500);
      expect(me.subscription).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: false });
      let last;
      for (let i = 0; i < 3; i++) {
        last = await request(t.url).post(`/mock-checkout/${checkoutId}/renew`).send({});
        expect(last.status).toBe(200);
      }
      me = await billing(user.token);
      expect(me.credits).toBe(2000);
      expect(me.subscription!.currentPeriodStart).toBe(last!.body.event.data.period_start);
      // The same renewal again, as a fresh delivery of the same event: no second grant.
      expect((await deliver(last!.body.event)).status).toBe(200);
      expect((await billing(user.token)).credits).toBe(2000);
      const grants = await rows(
        `SELECT count(*)::int AS n FROM credit_transactions WHERE user_id = $1 AND type = 'SUBSCRIPTION_GRANT'`,
        [user.id],
      );
      expect(grants).toEqual([{ n: 4 }]);
      await request(t.url).post(`/mock-checkout/${checkoutId}/past-due`).send({});
      me = await billing(user.token);
      expect(me.subscription!.status).toBe('PAST_DUE');
      expect(me.plan).toBe('free');
      await request(t.url).post(`/mock-checkout/${checkoutId}/renew`).send({});
      await request(t.url).post(`/mock-checkout/${checkoutId}/cancel-subscription`).send({});
      me = await billing(user.token);
      expect(me.subscription).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: true });
      expect(me.plan).toBe('plan-monthly');
    });
  });
});
