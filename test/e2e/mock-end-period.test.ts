import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Ledger } from '../../src/ledger';
import {
  CancelSubscriptionDocument,
  CreateCheckoutDocument,
  MyBillingDocument,
} from '../generated/graphql';
import { gql } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/server';

/**
 * `POST /mock-checkout/<id>/end-period`: the mock provider's clock reaches the end of the
 * subscription's period. It renews the subscription, or ends it when it was cancelled at
 * the period's end; Tally follows from the webhook it sends.
 */
describe("the mock provider's clock at the end of a period", () => {
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

  async function buyer(): Promise<string> {
    return t.token(`period-${randomUUID()}`);
  }

  async function paid(token: string, productId = 'plan-monthly'): Promise<string> {
    const res = await gql(t.url, CreateCheckoutDocument, {
      token,
      variables: { input: { productId } },
    });
    expect(res.errors).toBeUndefined();
    const checkoutId = res.data!.createCheckout.order.checkoutId!;
    const pay = await request(t.url).post(`/mock-checkout/${checkoutId}/pay`).send({});
    expect(pay.status).toBe(200);
    return checkoutId;
  }

  const billing = async (token: string) =>
    (await gql(t.url, MyBillingDocument, { token })).data!.me;
  const endPeriod = (checkoutId: string) =>
    request(t.url).post(`/mock-checkout/${checkoutId}/end-period`).send({});

  it('an active subscription is renewed: the next period and its credits', async () => {
    const token = await buyer();
    const checkoutId = await paid(token);
    const before = await billing(token);
    expect(before.credits).toBe(500);
    const res = await endPeriod(checkoutId);
    expect(res.status).toBe(200);
    expect(res.body.event).toMatchObject({
      type: 'subscription.renewed',
      data: { period_start: before.subscription!.currentPeriodEnd, amount: 1900, currency: 'USD' },
    });
    const after = await billing(token);
    expect(after.credits).toBe(1000);
    expect(after.plan).toBe('plan-monthly');
    expect(after.subscription).toMatchObject({
      status: 'ACTIVE',
      cancelAtPeriodEnd: false,
      currentPeriodStart: before.subscription!.currentPeriodEnd,
      currentPeriodEnd: res.body.event.data.period_end,
    });
  });

  it('a subscription cancelled at the end of its period ends there, and Tally cancels it', async () => {
    const token = await buyer();
    const checkoutId = await paid(token);
    const cancel = await gql(t.url, CancelSubscriptionDocument, { token });
    expect(cancel.data?.cancelSubscription).toMatchObject({
      status: 'ACTIVE',
      cancelAtPeriodEnd: true,
    });
    const before = await billing(token);
    const providerSubscriptionId = (
      (await t.server.dataSource.query(
        `SELECT subscription_id FROM mock_payments WHERE checkout_id = $1`,
        [checkoutId],
      )) as Array<{ subscription_id: string }>
    )[0]!.subscription_id;

    const res = await endPeriod(checkoutId);
    expect(res.status).toBe(200);
    expect(res.body.event).toMatchObject({
      type: 'subscription.cancelled',
      data: {
        subscription_id: providerSubscriptionId,
        cancel_at_period_end: false,
        ends_at: before.subscription!.currentPeriodEnd,
      },
    });
    const after = await billing(token);
    expect(after.plan).toBe('free');
    expect(after.subscription).toBeNull();
    expect(after.credits).toBe(500);
    const rows = await t.server.dataSource.query(
      `SELECT status FROM subscriptions WHERE provider = 'mock' AND provider_subscription_id = $1`,
      [providerSubscriptionId],
    );
    expect(rows).toEqual([{ status: 'CANCELLED' }]);
    // The provider's record says so too: its clock has nothing left to end or renew.
    expect((await endPeriod(checkoutId)).status).toBe(409);
  });

  it('409 without an active subscription; 404 for an unknown checkout', async () => {
    const token = await buyer();
    const pack = await paid(token, 'credits-100');
    const refused = await endPeriod(pack);
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({ error: 'No active subscription for this checkout' });
    const open = await gql(t.url, CreateCheckoutDocument, {
      token,
      variables: { input: { productId: 'plan-monthly' } },
    });
    expect((await endPeriod(open.data!.createCheckout.order.checkoutId!)).status).toBe(409);
    const cancelledNow = await paid(token);
    await request(t.url)
      .post(`/mock-checkout/${cancelledNow}/cancel-subscription`)
      .send({ atPeriodEnd: false });
    expect((await endPeriod(cancelledNow)).status).toBe(409);
    expect((await endPeriod('mck_000000000000000000000000')).status).toBe(404);
  });
});
