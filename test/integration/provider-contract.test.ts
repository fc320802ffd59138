import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { silentLogger } from '../../src/observability';
import {
  MockProvider,
  mockSignature,
  PaddleProvider,
  WebhookSignatureError,
  type CheckoutProduct,
  type PaymentProvider,
  type ProviderEvent,
} from '../../src/providers';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';
import { FakePaddle, type Delivery } from '../support/fake-paddle';

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

/** What each provider's "outside world" can do to it, for the shared contract below. */
interface Driver {
  provider: PaymentProvider;
  /** The buyer pays the checkout; resolves with the webhook the provider sends. */
  pay(checkoutId: string): Promise<Delivery>;
  /** The next period is charged. */
  renew(checkoutId: string, providerSubscriptionId: string): Promise<Delivery>;
  /** A refund of the checkout's payment. */
  refund(checkoutId: string, transactionId: string, amountMinor: number): Promise<Delivery>;
  /** A body signed as the provider would, at `at`, with `secret` (default: the right one). */
  signed(body: string, options?: { at?: number; secret?: string }): Delivery;
  stop(): Promise<void>;
}

async function mockDriver(ds: DataSource): Promise<Driver> {
  const secret = 'contract-mock-secret-0123456789';
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      deliveries.push({
        body: Buffer.concat(chunks),
        headers: req.headers as Record<string, string>,
      });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const provider = new MockProvider({
    dataSource: ds,
    webhookSecret: secret,
    publicUrl: () => 'http://tally.test',
    webhookUrl: () => `http://127.0.0.1:${port}/`,
    logger: silentLogger,
  });
  const last = () => deliveries[deliveries.length - 1]!;
  return {
    provider,
    async pay(checkoutId) {
      await provider.fake.dashboard.pay(checkoutId);
      return last();
    },
    async renew(checkoutId) {
      await provider.fake.dashboard.renew(checkoutId);
      return last();
    },
    async refund(checkoutId, _transactionId, amount) {
      await provider.fake.dashboard.refund(checkoutId, amount);
      return last();
    },
    signed(body, options = {}) {
      return {
        body: Buffer.from(body),
        headers: { 'mock-signature': mockSignature(options.secret ?? secret, body, options.at) },
      };
    },
    async stop() {
      server.close();
    },
  };
}

async function paddleDriver(): Promise<Driver> {
  const fake = new FakePaddle('pdl_sdbx_apikey_contract', 'pdl_ntfset_contract_secret', {
    pri_pack100: { amount: 500, currency: 'USD', recurring: false },
    pri_planmonthly: { amount: 1900, currency: 'USD', recurring: true },
  });
  await fake.start();
  const provider = new PaddleProvider({
    apiKey: fake.apiKey,
    webhookSecret: fake.webhookSecret,
    priceIds: { 'credits-100': 'pri_pack100', 'plan-monthly': 'pri_planmonthly' },
    apiUrl: fake.url,
    publicUrl: () => 'http://tally.test',
    logger: silentLogger,
    timeoutMs: 1000,
  });
  return {
    provider,
    async pay(checkoutId) {
      return fake.complete(checkoutId);
    },
    async renew(_checkoutId, providerSubscriptionId) {
      return fake.renew(providerSubscriptionId);
    },
    async refund(_checkoutId, transactionId, amount) {
      return fake.refund(transactionId, amount);
    },
    signed(body, options = {}) {
      return {
        body: Buffer.from(body),
        headers: {
          'paddle-signature': fake.sign(body, options.at, [options.secret ?? fake.webhookSecret]),
        },
      };
    },
    stop: () => fake.stop(),
  };
}

describe.each([
  ['mock', (ds: DataSource) => mockDriver(ds)],
  ['paddle (fake API)', () => paddleDriver()],
])('payment provider contract: %s', (_name, makeDriver) => {
  let db: TestDatabase;
  let ds: DataSource;
  let driver: Driver;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openTestDataSource(db.url, 4);
    driver = await makeDriver(ds);
  });
  afterAll(async () => {
    await driver?.stop();
    await ds?.destroy();
    await db?.drop();
  });

  const parse = (d: Delivery): ProviderEvent =>
    driver.provider.parseWebhook(d.body, d.headers).event;
  const open = (product = PACK) =>
    driver.provider.createCheckout({ orderId: randomUUID(), userId: 'u1', product });

  it('opens a checkout: an id, a page URL, pending until paid', async () => {
    const session = await open();
    expect(session.checkoutId).toEqual(expect.any(String));
    expect(session.url).toMatch(/^http:\/\/tally\.test\//);
    await expect(driver.provider.verifyPayment(session.checkoutId)).resolves.toEqual({
      status: 'pending',
    });
  });

  it('a payment: checkout.completed for the order, and verification agrees', async () => {
    const orderId = randomUUID();
    const session = await driver.provider.createCheckout({ orderId, userId: 'u1', product: PACK });
    const event = parse(await driver.pay(session.checkoutId));
    expect(event).toMatchObject({
      kind: 'checkout.completed',
      orderId,
      checkoutId: session.checkoutId,
      amountMinor: 500,
      currency: 'USD',
    });
    const verified = await driver.provider.verifyPayment(session.checkoutId);
    expect(verified).toMatchObject({ status: 'paid', amountMinor: 500, currency: 'USD' });
    expect(verified.transactionId).toBe(
      (event as Extract<ProviderEvent, { kind: 'checkout.completed' }>).transactionId,
    );
  });

  it('a subscription: its first period on payment, renewals that follow on', async () => {
    const session = await open(PLAN);
    const first = parse(await driver.pay(session.checkoutId)) as Extract<
      ProviderEvent,
      { kind: 'checkout.completed' }
    >;
    expect(first.subscription).toEqual({
      providerSubscriptionId: expect.any(String),
      periodStart: expect.any(Date),
      periodEnd: expect.any(Date),
    });
    const renewal = parse(
      await driver.renew(session.checkoutId, first.subscription!.providerSubscriptionId),
    );
    expect(renewal).toMatchObject({
      kind: 'subscription.renewed',
      providerSubscriptionId: first.subscription!.providerSubscriptionId,
      periodStart: first.subscription!.periodEnd,
    });
    expect((renewal as { transactionId: string }).transactionId).not.toBe(first.transactionId);
    await expect(
      driver.provider.cancelSubscription(first.subscription!.providerSubscriptionId, true),
    ).resolves.toBeUndefined();
  });

  it('a refund: the payment it refunds and the amount', async () => {
    const session = await open();
    const paid = parse(await driver.pay(session.checkoutId)) as Extract<
      ProviderEvent,
      { kind: 'checkout.completed' }
    >;
    const refund = parse(await driver.refund(session.checkoutId, paid.transactionId, 200));
    expect(refund).toMatchObject({
      kind: 'refund',
      transactionId: paid.transactionId,
      amountMinor: 200,
      currency: 'USD',
      refundId: expect.any(String),
    });
  });

  it('replays from the stored payload: the same event without the signature', async () => {
    const session = await open();
    const delivery = await driver.pay(session.checkoutId);
    const parsed = driver.provider.parseWebhook(delivery.body, delivery.headers);
    expect(driver.provider.parseStoredEvent(parsed.payload)).toEqual(parsed.event);
  });

  it('refuses a wrong secret, a stale timestamp, a changed body, a missing header', () => {
    const body = JSON.stringify({ hello: 'world' });
    const reject = (d: Delivery) =>
      expect(() => driver.provider.parseWebhook(d.body, d.headers)).toThrow(WebhookSignatureError);
    reject(driver.signed(body, { secret: 'not-the-secret' }));
    reject(driver.signed(body, { at: Date.now() - 3_600_000 }));
    const good = driver.signed(body);
    reject({ body: Buffer.from(body.replace('world', 'World')), headers: good.headers });
    reject({ body: Buffer.from(body), headers: {} });
  });
});
