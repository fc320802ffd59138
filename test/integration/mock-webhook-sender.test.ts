import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import { silentLogger } from '../../src/observability';
import {
  MockProvider,
  mockSignature,
  type CheckoutProduct,
  type MockProviderOptions,
} from '../../src/providers';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';

const SECRET = 'mock-sender-test-secret-0123456789';
const PACK: CheckoutProduct = {
  id: 'credits-100',
  name: '100 credits',
  kind: 'CREDIT_PACK',
  priceMinor: 500,
  currency: 'USD',
  interval: null,
};

interface Receiver {
  url: string;
  server: Server;
  /** The bodies received, in order. */
  bodies: string[];
  /** The status of the next answers (then 200). */
  failNext: number[];
}

/** A stand-in for Tally's callback route; answers `failNext` first, then 200. */
async function receiver(): Promise<Receiver> {
  const self: Receiver = { url: '', server: createServer(), bodies: [], failNext: [] };
  self.server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      self.bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(self.failNext.shift() ?? 200).end('{}');
    });
  });
  await new Promise<void>((r) => self.server.listen(0, '127.0.0.1', r));
  self.url = `http://127.0.0.1:${(self.server.address() as AddressInfo).port}/api/payment/callback`;
  return self;
}

/** A URL nothing listens at: a port that was free a moment ago. */
async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return `http://127.0.0.1:${port}/api/payment/callback`;
}

async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The mock provider's webhook outbox: each webhook is recorded with the change it reports,
 * its first attempt awaited by the action; failed ones are tried again, a bounded number of
 * times, by a poller that reads the table (so a restart loses none).
 */
describe("the mock provider's webhook sender", () => {
  let db: TestDatabase;
  let ds: DataSource;
  let hook: Receiver;
  const started: MockProvider[] = [];

  const make = (options: Partial<MockProviderOptions> = {}) =>
    new MockProvider({
      dataSource: ds,
      webhookSecret: SECRET,
      publicUrl: () => 'http://tally.test',
      webhookUrl: () => hook.url,
      logger: silentLogger,
      pollMs: 50,
      ...options,
    });
  const start = (provider: MockProvider) => {
    provider.fake.start();
    started.push(provider);
    return provider;
  };
  const delivery = async (eventId: string) =>
    (
      (await ds.query(
        `SELECT status, attempts, last_response_status AS "lastStatus", body
         FROM mock_webhook_deliveries WHERE event_id = $1`,
        [eventId],
      )) as Array<{ status: string; attempts: number; lastStatus: number | null; body: string }>
    )[0];
  const paidPack = async (provider: MockProvider) => {
    const { checkoutId } = await provider.createCheckout({
      orderId: randomUUID(),
      userId: 'u1',
      product: PACK,
    });
    return provider.fake.dashboard.pay(checkoutId);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openTestDataSource(db.url, 6);
    hook = await receiver();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((p) => p.close()));
    hook.failNext = [];
  });
  afterAll(async () => {
    hook?.server.close();
    await ds?.destroy();
    await db?.drop();
  });

  it('records the webhook; a 2xx on the first attempt, awaited by the action, delivers it', async () => {
    const provider = make();
    const before = hook.bodies.length;
    const event = await paidPack(provider);
    expect(hook.bodies).toHaveLength(before + 1);
    expect(JSON.parse(hook.bodies[before]!)).toEqual(event);
    await expect(delivery(event.id)).resolves.toEqual({
      status: 'DELIVERED',
      attempts: 1,
      lastStatus: 200,
      body: hook.bodies[before],
    });
  });

  it('a refused delivery is tried again later, with the same body, and arrives', async () => {
    const provider = start(make());
    hook.failNext = [500];
    const before = hook.bodies.length;
    const event = await paidPack(provider);
    // The action answered after its first attempt, refused.
    expect(hook.bodies).toHaveLength(before + 1);
    expect(await delivery(event.id)).toMatchObject({
      status: 'PENDING',
      attempts: 1,
      lastStatus: 500,
    });
    const delivered = await eventually(async () => {
      const row = await delivery(event.id);
      return row?.status === 'DELIVERED' ? row : undefined;
    });
    expect(delivered).toMatchObject({ attempts: 2, lastStatus: 200 });
    expect(hook.bodies.slice(before)).toEqual([delivered.body, delivered.body]);
    const signed = provider.parseWebhook(Buffer.from(delivered.body), {
      'mock-signature': mockSignature(SECRET, delivered.body),
    });
    expect(signed.event.eventId).toBe(event.id);
  });

  it('an endpoint that never answers: 4 attempts with growing delays, then FAILED', async () => {
    const url = await closedUrl();
    const provider = start(make({ webhookUrl: () => url, retryDelaysMs: [50, 100, 200] }));
    const event = await paidPack(provider);
    const failed = await eventually(async () => {
      const row = await delivery(event.id);
      return row?.status === 'FAILED' ? row : undefined;
    });
    expect(failed).toMatchObject({ attempts: 4, lastStatus: null });
    // Bounded: no attempt after the last.
    await new Promise((r) => setTimeout(r, 300));
    expect(await delivery(event.id)).toMatchObject({ status: 'FAILED', attempts: 4 });
  });

  it('a restart: a delivery pending when one fake stops is sent by the next one started', async () => {
    const url = await closedUrl();
    const first = start(make({ webhookUrl: () => url, retryDelaysMs: [300, 300, 300] }));
    const event = await paidPack(first);
    expect(await delivery(event.id)).toMatchObject({ status: 'PENDING', attempts: 1 });
    await first.close();
    // Stopped: past its retry's time, nothing more was tried.
    await new Promise((r) => setTimeout(r, 600));
    expect(await delivery(event.id)).toMatchObject({ status: 'PENDING', attempts: 1 });

    const before = hook.bodies.length;
    start(make());
    const delivered = await eventually(async () => {
      const row = await delivery(event.id);
      return row?.status === 'DELIVERED' ? row : undefined;
    });
    expect(delivered).toMatchObject({ attempts: 2, lastStatus: 200 });
    expect(hook.bodies.slice(before)).toEqual([delivered.body]);
    expect(JSON.parse(delivered.body)).toEqual(event);
  });

  it('two fakes on one database: each due delivery is attempted once', async () => {
    const url = await closedUrl();
    const quiet = make({ webhookUrl: () => url, retryDelaysMs: [1, 1, 1] });
    const events = await Promise.all([1, 2, 3, 4, 5].map(() => paidPack(quiet)));
    await new Promise((r) => setTimeout(r, 20));
    const before = hook.bodies.length;
    const [a, b] = [make(), make()];
    const passes = await Promise.all([a.fake.sender.deliverDue(), b.fake.sender.deliverDue()]);
    expect(passes[0] + passes[1]).toBe(events.length);
    const ids = hook.bodies.slice(before).map((body) => (JSON.parse(body) as { id: string }).id);
    expect(ids.sort()).toEqual(events.map((e) => e.id).sort());
  });
});
