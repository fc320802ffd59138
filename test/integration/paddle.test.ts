import { randomUUID } from 'node:crypto';
import { Paddle } from '@paddle/paddle-node-sdk';
import { silentLogger } from '../../src/observability';
import { PaddleProvider, WebhookSignatureError } from '../../src/providers';
import { FakePaddle } from '../support/fake-paddle';

const PACK = {
  id: 'credits-100',
  name: '100 credits',
  kind: 'CREDIT_PACK' as const,
  priceMinor: 500,
  currency: 'USD',
  interval: null,
};

describe('the Paddle adapter', () => {
  let fake: FakePaddle;
  const provider = (timeoutMs = 1000) =>
    new PaddleProvider({
      apiKey: fake.apiKey,
      webhookSecret: fake.webhookSecret,
      priceIds: { 'credits-100': 'pri_pack100' },
      apiUrl: fake.url,
      publicUrl: () => 'https://billing.example.com',
      logger: silentLogger,
      timeoutMs,
    });

  beforeAll(async () => {
    fake = new FakePaddle('pdl_sdbx_apikey_0123456789', 'pdl_ntfset_0123456789abcdef', {
      pri_pack100: { amount: 500, currency: 'USD', recurring: false },
    });
    await fake.start();
  });
  afterEach(() => {
    fake.mode = 'ok';
  });
  afterAll(async () => {
    await fake.stop();
  });

  it('the official SDK talks to the base URL given in place of its environment name', async () => {
    const orderId = randomUUID();
    const session = await provider().createCheckout({ orderId, userId: 'u7', product: PACK });
    expect(session.url).toBe(
      `https://billing.example.com/paddle-checkout?_ptxn=${session.checkoutId}`,
    );
    const call = fake.requests.find((r) => r.method === 'POST' && r.path === '/transactions');
    expect(call?.body).toEqual({
      items: [{ price_id: 'pri_pack100', quantity: 1 }],
      custom_data: { order_id: orderId, user_id: 'u7' },
    });
  });

  describe('signature verification agrees with the SDK’s own isSignatureValid', () => {
    const sdk = new Paddle('pdl_sdbx_apikey_unused');
    const body = JSON.stringify({
      event_id: 'evt_1',
      event_type: 'payout.paid',
      occurred_at: new Date().toISOString(),
      data: {},
    });
    const cases: Array<[string, () => { body: string; header: string }, boolean]> = [
      ['a fresh, correct signature', () => ({ body, header: fake.sign(body) }), true],
      [
        'another secret',
        () => ({ body, header: fake.sign(body, Date.now(), ['other-secret']) }),
        false,
      ],
      [
        'a changed body',
        () => ({ body: body.replace('evt_1', 'evt_2'), header: fake.sign(body) }),
        false,
      ],
      [
        'a ten-minute-old timestamp',
        () => ({ body, header: fake.sign(body, Date.now() - 600_000) }),
        false,
      ],
      ['a malformed header', () => ({ body, header: 'ts=;h1=' }), false],
      [
        'a digest that is not hex',
        () => ({ body, header: `ts=${Math.floor(Date.now() / 1000)};h1=zz` }),
        false,
      ],
    ];
    it.each(cases)('%s', async (_name, make, valid) => {
      const { body: b, header } = make();
      const sdkSays = await sdk.webhooks
        .isSignatureValid(b, fake.webhookSecret, header)
        .catch(() => false);
      let oursSays = true;
      try {
        provider().parseWebhook(Buffer.from(b), { 'paddle-signature': header });
      } catch (error) {
        expect(error).toBeInstanceOf(WebhookSignatureError);
        oursSays = false;
      }
      expect(sdkSays).toBe(valid);
      expect(oursSays).toBe(valid);
    });

    it('accepts any h1 of a header sent during a secret rotation', () => {
      const header = fake.sign(body, Date.now(), ['the-retired-secret', fake.webhookSecret]);
      expect(header.match(/h1=/g)).toHaveLength(2);
      expect(
        provider().parseWebhook(Buffer.from(body), { 'paddle-signature': header }).event,
      ).toEqual({
        kind: 'ignored',
        eventId: 'evt_1',
        type: 'payout.paid',
        occurredAt: expect.any(Date),
      });
    });
  });

  describe('events as Paddle documents them', () => {
    const parse = (type: string, data: Record<string, unknown>) => {
      const d = fake.delivery(type, data);
      return provider().parseWebhook(d.body, d.headers).event;
    };

    it('acts on approved refunds only', () => {
      const base = {
        id: 'adj_1',
        transaction_id: 'txn_1',
        currency_code: 'USD',
        totals: { subtotal: '500', total: '500' },
      };
      expect(
        parse('adjustment.created', { ...base, action: 'refund', status: 'pending_approval' }).kind,
      ).toBe('ignored');
      expect(
        parse('adjustment.created', { ...base, action: 'credit', status: 'approved' }).kind,
      ).toBe('ignored');
      expect(
        parse('adjustment.updated', { ...base, action: 'refund', status: 'approved' }),
      ).toEqual({
        kind: 'refund',
        eventId: expect.any(String),
        refundId: 'adj_1',
        transactionId: 'txn_1',
        amountMinor: 500,
        currency: 'USD',
        occurredAt: expect.any(Date),
      });
    });

    it('reads cancellation, past due and cancel-at-period-end from subscription events', () => {
      const period = { starts_at: '2026-11-01T00:00:00Z', ends_at: '2026-12-01T00:00:00Z' };
      expect(
        parse('subscription.updated', {
          id: 'sub_1',
          status: 'active',
          current_billing_period: period,
          scheduled_change: { action: 'cancel', effective_at: period.ends_at },
        }),
      ).toMatchObject({
        kind: 'subscription.cancelled',
        cancelAtPeriodEnd: true,
        providerSubscriptionId: 'sub_1',
      });
      expect(parse('subscription.past_due', { id: 'sub_1', status: 'past_due' }).kind).toBe(
        'subscription.past_due',
      );
      expect(
        parse('subscription.canceled', {
          id: 'sub_1',
          status: 'canceled',
          canceled_at: '2026-11-20T00:00:00Z',
        }),
      ).toMatchObject({
        kind: 'subscription.cancelled',
        cancelAtPeriodEnd: false,
      });
      expect(parse('subscription.created', { id: 'sub_1', status: 'active' }).kind).toBe('ignored');
    });

    it('ignores a completed transaction Tally did not start (no order id)', () => {
      expect(
        parse('transaction.completed', {
          id: 'txn_x',
          status: 'completed',
          origin: 'web',
          currency_code: 'USD',
          custom_data: null,
          details: { totals: { subtotal: '500', grand_total: '500' } },
        }).kind,
      ).toBe('ignored');
    });

    it('keeps no personal details in the stored payload', () => {
      const session = { id: 'txn_y' };
      const d = fake.delivery('transaction.completed', {
        id: session.id,
        status: 'completed',
        origin: 'web',
        currency_code: 'USD',
        custom_data: { order_id: randomUUID() },
        details: { totals: { subtotal: '500', grand_total: '500' } },
        customer: { email: 'buyer@example.com' },
        payments: [{ method_details: { card: { last4: '4242' } } }],
      });
      const stored = JSON.stringify(provider().parseWebhook(d.body, d.headers).payload);
      expect(stored).not.toContain('buyer@example.com');
      expect(stored).not.toContain('4242');
    });
  });

  describe('an outage', () => {
    it('a 500 from the API fails the call', async () => {
      fake.mode = 'error';
      await expect(
        provider().createCheckout({ orderId: randomUUID(), userId: 'u', product: PACK }),
      ).rejects.toThrow();
    });

    it('an API that never answers fails the call after the timeout', async () => {
      fake.mode = 'hang';
      const started = Date.now();
      await expect(
        provider(300).createCheckout({ orderId: randomUUID(), userId: 'u', product: PACK }),
      ).rejects.toThrow(/timed out/);
      expect(Date.now() - started).toBeLessThan(2000);
    });
  });
});
