import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { CreateCheckoutDocument, MyBillingDocument } from '../generated/graphql';
import { FakePaddle } from '../support/fake-paddle';
import { gql } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/server';

/** Tally configured for Paddle (against the fake API), end to end over HTTP. */
describe('payments with Paddle (fake API)', () => {
  let fake: FakePaddle;
  let t: TestServer;

  beforeAll(async () => {
    fake = new FakePaddle('pdl_sdbx_apikey_e2e_0123456789', 'pdl_ntfset_e2e_0123456789', {
      pri_credits100: { amount: 500, currency: 'USD', recurring: false },
      pri_credits1000: { amount: 4000, currency: 'USD', recurring: false },
      pri_planmonthly: { amount: 1900, currency: 'USD', recurring: true },
    });
    await fake.start();
    t = await startTestServer({
      PAYMENT_PROVIDER: 'paddle',
      PAYMENT_ENV: 'test',
      PADDLE_TEST_API_KEY: fake.apiKey,
      PADDLE_TEST_WEBHOOK_SECRET: fake.webhookSecret,
      PADDLE_TEST_PRICE_CREDITS_100: 'pri_credits100',
      PADDLE_TEST_PRICE_CREDITS_1000: 'pri_credits1000',
      PADDLE_TEST_PRICE_PLAN_MONTHLY: 'pri_planmonthly',
      PADDLE_TEST_CLIENT_TOKEN: 'test_clienttoken123',
      PADDLE_API_URL: fake.url,
    });
  });
  afterEach(() => {
    fake.mode = 'ok';
  });
  afterAll(async () => {
    await t?.close();
    await fake?.stop();
  });

  const deliver = (d: { body: Buffer; headers: Record<string, string> }) =>
    // As a string: superagent would serialise a Buffer as JSON, changing the signed bytes.
    request(t.url).post('/api/payment/callback').set(d.headers).send(d.body.toString('utf8'));

  it('checkout on Tally’s Paddle.js page, transaction.completed credits once', async () => {
    const userId = `paddle-${randomUUID()}`;
    const token = await t.token(userId);
    const res = await gql(t.url, CreateCheckoutDocument, {
      token,
      variables: { input: { productId: 'credits-100' } },
    });
    expect(res.errors).toBeUndefined();
    const { checkoutUrl, order } = res.data!.createCheckout;
    expect(order.checkoutId).toMatch(/^txn_/);
    expect(checkoutUrl).toBe(`${t.url}/paddle-checkout?_ptxn=${order.checkoutId}`);
    const page = await request(t.url).get(`/paddle-checkout?_ptxn=${order.checkoutId}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Paddle.Initialize');
    expect(page.text).toContain('test_clienttoken123');

    const completed = fake.complete(order.checkoutId!);
    expect((await deliver(completed)).status).toBe(200);
    expect((await deliver(completed)).body.duplicate).toBe(true);
    const back = await request(t.url)
      .get('/api/payment/callback')
      .query({ order_id: order.id, checkout_id: order.checkoutId, status: 'success' });
    expect(back.status).toBe(303);
    const me = await gql(t.url, MyBillingDocument, { token });
    expect(me.data?.me.credits).toBe(100);
    expect(me.data?.me.orders.edges[0]!.node.status).toBe('COMPLETED');
  });

  it('a subscription through Paddle: first period, a renewal, cancel at period end', async () => {
    const userId = `paddle-${randomUUID()}`;
    const token = await t.token(userId);
    const res = await gql(t.url, CreateCheckoutDocument, {
      token,
      variables: { input: { productId: 'plan-monthly' } },
    });
    const txn = res.data!.createCheckout.order.checkoutId!;
    const first = fake.complete(txn);
    expect((await deliver(first)).status).toBe(200);
    const subscriptionId = JSON.parse(first.body.toString()).data.subscription_id as string;
    const renewal = fake.renew(subscriptionId);
    expect((await deliver(renewal)).status).toBe(200);
    let me = (await gql(t.url, MyBillingDocument, { token })).data!.me;
    expect(me.credits).toBe(1000);
    expect(me.plan).toBe('plan-monthly');
    // An approved refund adjustment of the renewal's transaction: that period's credits back.
    const renewalTx = JSON.parse(renewal.body.toString()).data.id as string;
    const refund = fake.refund(renewalTx);
    expect((await deliver(refund)).status).toBe(200);
    expect((await deliver(refund)).status).toBe(200);
    me = (await gql(t.url, MyBillingDocument, { token })).data!.me;
    expect(me.credits).toBe(500);
    const cancel = await gql(
      t.url,
      `mutation { cancelSubscription { status cancelAtPeriodEnd } }`,
      { token },
    );
    expect(cancel.errors).toBeUndefined();
    expect(fake.subscriptionState(subscriptionId)?.scheduled_cancel).toBe(true);
    expect(
      (await deliver(fake.subscriptionEvent(subscriptionId, 'subscription.updated'))).status,
    ).toBe(200);
    me = (await gql(t.url, MyBillingDocument, { token })).data!.me;
    expect(me.subscription).toMatchObject({ status: 'ACTIVE', cancelAtPeriodEnd: true });
  });

  it('Paddle down: PROVIDER_ERROR (502) and the order FAILED, nothing half-made', async () => {
    const userId = `paddle-${randomUUID()}`;
    fake.mode = 'error';
    const res = await gql(t.url, CreateCheckoutDocument, {
      token: await t.token(userId),
      variables: { input: { productId: 'credits-100' } },
    });
    expect(res.status).toBe(502);
    expect(res.errors?.[0]?.extensions?.['code']).toBe('PROVIDER_ERROR');
    const orders = await t.server.dataSource.query(
      'SELECT status, checkout_id FROM orders WHERE user_id = $1',
      [userId],
    );
    expect(orders).toEqual([{ status: 'FAILED', checkout_id: null }]);
  });
});
