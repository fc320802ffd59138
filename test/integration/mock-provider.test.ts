import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { silentLogger } from '../../src/observability';
import {
  MockProvider,
  mockSignature,
  WebhookPayloadError,
  WebhookSignatureError,
  type CheckoutProduct,
} from '../../src/providers';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';

const SECRET = 'mock-provider-test-secret-0123456789';
const PACK: CheckoutProduct = {
  id: 'credits-100',
  name: '100 credits',
  kind: 'CREDIT_PACK',
  priceMinor: 500,
  currency: 'USD',
  interval: null,
};
const PLAN: CheckoutProduct = {
  id: 'plan-monthly',
  name: 'Monthly plan',
  kind: 'SUBSCRIPTION',
  priceMinor: 1900,
  currency: 'USD',
  interval: 'MONTH',
};

interface Delivery {
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

/** A stand-in for Tally's callback route: records every delivery, answers 200. */
async function receiver(): Promise<{ url: string; deliveries: Delivery[]; server: Server }> {
  const deliveries: Delivery[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/payment/callback`, deliveries, server };
}

describe('the mock payment provider', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let hook: Awaited<ReturnType<typeof receiver>>;
  let provider: MockProvider;

  const make = () =>
    new MockProvider({
      dataSource: ds,
      webhookSecret: SECRET,
      publicUrl: () => 'http://tally.test',
      webhookUrl: () => hook.url,
      logger: silentLogger,
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openTestDataSource(db.url, 4);
    hook = await receiver();
    provider = make();
  });
  afterAll(async () => {
    hook?.server.close();
    await ds?.destroy();
    await db?.drop();
  });

  const checkout = (product = PACK) =>
    provider.createCheckout({ orderId: randomUUID(), userId: 'u1', product });
  const lastDelivery = () => hook.deliveries[hook.deliveries.length - 1]!;

  it('opens a hosted checkout, pending until paid', async () => {
    const session = await checkout();
    expect(session.checkoutId).toMatch(/^mck_[0-9a-f]{24}$/);
    expect(session.url).toBe(`http://tally.test/mock-checkout/${session.checkoutId}`);
    await expect(provider.verifyPayment(session.checkoutId)).resolves.toEqual({
      status: 'pending',
    });
    await expect(provider.verifyPayment('mck_unknown')).resolves.toEqual({ status: 'failed' });
  });

  it('pays: records the payment and delivers a signed checkout.completed over HTTP', async () => {
    const session = await checkout();
    const before = hook.deliveries.length;
    const event = await provider.fake.dashboard.pay(session.checkoutId);
    expect(hook.deliveries).toHaveLength(before + 1);
    const delivery = lastDelivery();
    expect(delivery.headers['mock-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const parsed = provider.parseWebhook(delivery.body, delivery.headers);
    expect(parsed.type).toBe('checkout.completed');
    expect(parsed.event).toMatchObject({
      kind: 'checkout.completed',
      eventId: event.id,
      checkoutId: session.checkoutId,
      amountMinor: 500,
      currency: 'USD',
    });
    const verified = await provider.verifyPayment(session.checkoutId);
    expect(verified).toMatchObject({ status: 'paid', amountMinor: 500, currency: 'USD' });
    expect(verified.transactionId).toBe(event.data['transaction_id']);
    // A real provider does not take a second payment for one checkout.
    await expect(provider.fake.dashboard.pay(session.checkoutId)).rejects.toMatchObject({
      status: 409,
    });
  });

  it('a lost delivery: paid at the provider, no webhook sent', async () => {
    const session = await checkout();
    const before = hook.deliveries.length;
    await provider.fake.dashboard.pay(session.checkoutId, { sendWebhook: false });
    expect(hook.deliveries).toHaveLength(before);
    await expect(provider.verifyPayment(session.checkoutId)).resolves.toMatchObject({
      status: 'paid',
    });
  });

  it('cancel: only an open checkout, and it says so in a webhook', async () => {
    const session = await checkout();
    await provider.fake.dashboard.cancel(session.checkoutId);
    expect(provider.parseWebhook(lastDelivery().body, lastDelivery().headers).event).toMatchObject({
      kind: 'checkout.cancelled',
      checkoutId: session.checkoutId,
    });
    await expect(provider.verifyPayment(session.checkoutId)).resolves.toEqual({
      status: 'cancelled',
    });
    await expect(provider.fake.dashboard.pay(session.checkoutId)).rejects.toMatchObject({
      status: 409,
    });
  });

  it('refunds what was paid, in parts, never more, never an unpaid checkout', async () => {
    const session = await checkout();
    await expect(provider.fake.dashboard.refund(session.checkoutId)).rejects.toMatchObject({
      status: 409,
    });
    await provider.fake.dashboard.pay(session.checkoutId);
    await expect(provider.fake.dashboard.refund(session.checkoutId, 501)).rejects.toMatchObject({
      status: 409,
    });
    const part = await provider.fake.dashboard.refund(session.checkoutId, 200);
    expect(provider.parseWebhook(lastDelivery().body, lastDelivery().headers).event).toMatchObject({
      kind: 'refund',
      refundId: part.data['refund_id'],
      amountMinor: 200,
    });
    const rest = await provider.fake.dashboard.refund(session.checkoutId);
    expect(rest.data['amount']).toBe(300);
    await expect(provider.fake.dashboard.refund(session.checkoutId)).rejects.toMatchObject({
      status: 409,
      message: 'Payment already refunded',
    });
    const other = await checkout();
    await provider.fake.dashboard.pay(other.checkoutId);
    await expect(provider.fake.dashboard.refund(other.checkoutId, 0)).rejects.toMatchObject({
      status: 400,
    });
  });

  it('a subscription: first period on payment, renewals, past due, cancel at period end', async () => {
    const session = await checkout(PLAN);
    await provider.fake.dashboard.pay(session.checkoutId);
    const first = await provider.verifyPayment(session.checkoutId);
    expect(first.subscription?.providerSubscriptionId).toMatch(/^sub_/);
    const renewed = await provider.fake.dashboard.renew(session.checkoutId);
    const event = provider.parseWebhook(lastDelivery().body, lastDelivery().headers).event;
    expect(event).toMatchObject({
      kind: 'subscription.renewed',
      providerSubscriptionId: first.subscription!.providerSubscriptionId,
      periodStart: first.subscription!.periodEnd,
    });
    expect(renewed.data['transaction_id']).not.toBe(first.transactionId);
    await provider.fake.dashboard.pastDue(session.checkoutId);
    expect(provider.parseWebhook(lastDelivery().body, lastDelivery().headers).event.kind).toBe(
      'subscription.past_due',
    );
    await provider.cancelSubscription(first.subscription!.providerSubscriptionId, true);
    expect(provider.parseWebhook(lastDelivery().body, lastDelivery().headers).event).toMatchObject({
      kind: 'subscription.cancelled',
      cancelAtPeriodEnd: true,
    });
    // A pack has no subscription to renew.
    const pack = await checkout();
    await provider.fake.dashboard.pay(pack.checkoutId);
    await expect(provider.fake.dashboard.renew(pack.checkoutId)).rejects.toMatchObject({
      status: 409,
    });
  });

  it('keeps its state in the database: a new instance (a restart) sees every payment', async () => {
    const session = await checkout();
    await provider.fake.dashboard.pay(session.checkoutId, { sendWebhook: false });
    await expect(make().verifyPayment(session.checkoutId)).resolves.toMatchObject({
      status: 'paid',
    });
  });

  describe('webhook verification', () => {
    const body = JSON.stringify({
      id: 'evt_1',
      type: 'checkout.cancelled',
      created_at: new Date().toISOString(),
      data: { checkout_id: 'mck_x', order_id: randomUUID() },
    });

    it('accepts a fresh, correctly signed body', () => {
      const headers = { 'mock-signature': mockSignature(SECRET, body) };
      expect(provider.parseWebhook(Buffer.from(body), headers).event.kind).toBe(
        'checkout.cancelled',
      );
    });

    it.each([
      ['no header', {}],
      ['an empty header', { 'mock-signature': '' }],
      ['a malformed header', { 'mock-signature': 'v1=abc' }],
      ['another secret', { 'mock-signature': mockSignature('another-secret', body) }],
      [
        'a stale timestamp',
        { 'mock-signature': mockSignature(SECRET, body, Date.now() - 310_000) },
      ],
      [
        'a future timestamp',
        { 'mock-signature': mockSignature(SECRET, body, Date.now() + 310_000) },
      ],
    ])('refuses %s', (_name, headers) => {
      expect(() => provider.parseWebhook(Buffer.from(body), headers)).toThrow(
        WebhookSignatureError,
      );
    });

    it('refuses a body changed after signing', () => {
      const headers = { 'mock-signature': mockSignature(SECRET, body) };
      const tampered = Buffer.from(body.replace('evt_1', 'evt_2'));
      expect(() => provider.parseWebhook(tampered, headers)).toThrow(WebhookSignatureError);
    });

    it('an authentic body that is not JSON, or not an event, is a payload error', () => {
      for (const raw of ['{not json', '[]', JSON.stringify({ id: 'e', type: 't' })]) {
        const headers = { 'mock-signature': mockSignature(SECRET, raw) };
        expect(() => provider.parseWebhook(Buffer.from(raw), headers)).toThrow(WebhookPayloadError);
      }
      const bad = JSON.stringify({
        id: 'e',
        type: 'checkout.completed',
        created_at: 'now',
        data: { amount: -1 },
      });
      expect(() =>
        provider.parseWebhook(Buffer.from(bad), { 'mock-signature': mockSignature(SECRET, bad) }),
      ).toThrow(WebhookPayloadError);
    });

    it('an authentic event of an unknown type is ignored, not refused', () => {
      const raw = JSON.stringify({ id: 'e9', type: 'payout.paid', created_at: 'x', data: {} });
      const parsed = provider.parseWebhook(Buffer.from(raw), {
        'mock-signature': mockSignature(SECRET, raw),
      });
      expect(parsed.event).toEqual({ kind: 'ignored', eventId: 'e9', type: 'payout.paid' });
    });
  });
});
