import { randomUUID } from 'node:crypto';
import {
  connect,
  createServer as createNetServer,
  type AddressInfo,
  type Server,
  type Socket,
} from 'node:net';
import request from 'supertest';
import WebSocket from 'ws';
import {
  AdjustCreditsDocument,
  BalanceChangedDocument,
  CaptureReservationDocument,
  CreateCheckoutDocument,
  DeductCreditsDocument,
  MeDocument,
  MyHistoryDocument,
  OrderStatusChangedDocument,
  RefundCreditsDocument,
  ReserveCreditsDocument,
} from '../generated/graphql';
import { gql } from '../support/graphql';
import { liveClient, waitForListeners, watch } from '../support/live';
import { startTestServer, type TestServer } from '../support/server';

const REDIS_URL = process.env['TALLY_TEST_REDIS_URL'];

/** Makes the user's profile exist (as their first `me` does). */
async function ensureUser(t: TestServer, userId: string): Promise<void> {
  const res = await gql(t.url, MeDocument, { token: await t.token(userId) });
  expect(res.errors).toBeUndefined();
}

/** The close code the server ends a raw graphql-ws connection with. */
function closeCodeOf(url: string, token: string | undefined, after?: (ws: WebSocket) => void) {
  return new Promise<{ code: number; reason: string }>((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    ws.on('open', () => {
      ws.send(
        JSON.stringify({
          type: 'connection_init',
          payload: token ? { authorization: `Bearer ${token}` } : {},
        }),
      );
      after?.(ws);
    });
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on('error', reject);
  });
}

describe('live balance over graphql-ws', () => {
  let t: TestServer;
  let service: string;
  let admin: string;

  beforeAll(async () => {
    t = await startTestServer();
    service = await t.token('app-backend', 'service');
    admin = await t.token('ops', 'admin');
  });
  afterAll(async () => {
    await t?.close();
  });

  const deduct = (userId: string, amount: number) =>
    gql(t.url, DeductCreditsDocument, {
      token: service,
      variables: {
        input: { userId, amount, description: 'render', idempotencyKey: randomUUID() },
      },
    });

  it('every movement type arrives within 1 s of its commit, in order, with the balance after', async () => {
    const userId = `live-${randomUUID()}`;
    const user = await t.token(userId);
    const client = liveClient(t.url, user);
    try {
      const live = watch(client, BalanceChangedDocument);
      await waitForListeners(() => t.server.realtime.subscriberCount, 1);
      const latencies: number[] = [];
      const timed = async <T>(act: () => Promise<T>, count: number): Promise<T> => {
        const result = await act();
        const committed = performance.now();
        const events = await live.until(count, 1000);
        latencies.push(events[count - 1]!.at - committed);
        return result;
      };

      // PURCHASE: a credit pack paid through the mock provider.
      const checkout = await gql(t.url, CreateCheckoutDocument, {
        token: user,
        variables: { input: { productId: 'credits-100' } },
      });
      const packCheckout = checkout.data!.createCheckout.order.checkoutId!;
      await timed(() => request(t.url).post(`/mock-checkout/${packCheckout}/pay`).send({}), 1);
      // SUBSCRIPTION_GRANT: the monthly plan's first period.
      const plan = await gql(t.url, CreateCheckoutDocument, {
        token: user,
        variables: { input: { productId: 'plan-monthly' } },
      });
      const planCheckout = plan.data!.createCheckout.order.checkoutId!;
      await timed(() => request(t.url).post(`/mock-checkout/${planCheckout}/pay`).send({}), 2);
      // CONSUMPTION, then its REFUND.
      const spent = await timed(() => deduct(userId, 30), 3);
      await timed(
        () =>
          gql(t.url, RefundCreditsDocument, {
            token: service,
            variables: {
              input: {
                transactionId: spent.data!.deductCredits.transaction.id,
                amount: 10,
                description: 'render failed',
              },
            },
          }),
        4,
      );
      // ADJUSTMENT by an admin.
      await timed(
        () =>
          gql(t.url, AdjustCreditsDocument, {
            token: admin,
            variables: {
              input: { userId, amount: 5, description: 'goodwill', idempotencyKey: randomUUID() },
            },
          }),
        5,
      );
      // A reservation captured: the CONSUMPTION it writes.
      const hold = await gql(t.url, ReserveCreditsDocument, {
        token: service,
        variables: {
          input: { userId, amount: 20, description: 'video', idempotencyKey: randomUUID() },
        },
      });
      await timed(
        () =>
          gql(t.url, CaptureReservationDocument, {
            token: service,
            variables: { input: { reservationId: hold.data!.reserveCredits.id, amount: 15 } },
          }),
        6,
      );
      // CLAWBACK: the provider refunds the pack.
      await timed(() => request(t.url).post(`/mock-checkout/${packCheckout}/refund`).send({}), 7);

      const got = live.events.map((e) => e.data.balanceChanged);
      expect(got.map((e) => [e.transaction.type, e.transaction.amount, e.balance])).toEqual([
        ['PURCHASE', 100, 100],
        ['SUBSCRIPTION_GRANT', 500, 600],
        ['CONSUMPTION', -30, 570],
        ['REFUND', 10, 580],
        ['ADJUSTMENT', 5, 585],
        ['CONSUMPTION', -15, 570],
        ['CLAWBACK', -100, 470],
      ]);
      for (const e of got) {
        expect(e.userId).toBe(userId);
        expect(e.transaction.balanceAfter).toBe(e.balance);
      }
      expect(Math.max(...latencies)).toBeLessThan(1000);
      expect(live.errors).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('a refused deduction announces nothing; concurrent ones arrive in commit order', async () => {
    const userId = `live-${randomUUID()}`;
    await ensureUser(t, userId);
    await gql(t.url, AdjustCreditsDocument, {
      token: admin,
      variables: { input: { userId, amount: 10, description: 'seed', idempotencyKey: 'seed' } },
    });
    const client = liveClient(t.url, service);
    try {
      const before = t.server.realtime.subscriberCount;
      const live = watch(client, BalanceChangedDocument, { userId });
      await waitForListeners(() => t.server.realtime.subscriberCount, before + 1);
      const refused = await deduct(userId, 11);
      expect(refused.errors?.[0]?.extensions?.['code']).toBe('INSUFFICIENT_CREDITS');
      // Ten at once: each event's balance is the one before it less one, in seq order.
      await Promise.all(Array.from({ length: 10 }, () => deduct(userId, 1)));
      const events = await live.until(10, 1000);
      await new Promise((r) => setTimeout(r, 200));
      expect(live.events).toHaveLength(10);
      expect(events.map((e) => e.data.balanceChanged.balance)).toEqual([
        9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
      ]);
    } finally {
      await client.dispose();
    }
  });

  it('over HTTP a subscription is a clear 400, not an error of the server', async () => {
    const res = await request(t.url)
      .post('/graphql')
      .set('authorization', `Bearer ${await t.token('http-user')}`)
      .send({ query: 'subscription { balanceChanged { balance } }' });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({
      message: expect.stringMatching(/WebSocket/),
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('a client that was away reads its balance and history: nothing is lost', async () => {
    const userId = `away-${randomUUID()}`;
    const token = await t.token(userId);
    await ensureUser(t, userId);
    const client = liveClient(t.url, token);
    const base = t.server.realtime.subscriberCount;
    const live = watch(client, BalanceChangedDocument);
    await waitForListeners(() => t.server.realtime.subscriberCount, base + 1);
    await gql(t.url, AdjustCreditsDocument, {
      token: admin,
      variables: { input: { userId, amount: 20, description: 'a', idempotencyKey: 'a' } },
    });
    await live.until(1);
    await client.dispose();
    await waitForListeners(() => base + 1 - t.server.realtime.subscriberCount, 1);
    // Offline: two movements happen.
    await deduct(userId, 3);
    await deduct(userId, 4);
    const back = liveClient(t.url, token);
    try {
      expect((await gql(t.url, MeDocument, { token })).data?.me.credits).toBe(13);
      const history = await gql(t.url, MyHistoryDocument, { token });
      expect(history.data?.me.creditTransactions.edges.map((e) => e.node.amount)).toEqual([
        -4, -3, 20,
      ]);
      const again = watch(back, BalanceChangedDocument);
      await waitForListeners(() => t.server.realtime.subscriberCount, base + 1);
      await deduct(userId, 1);
      expect((await again.until(1))[0]!.data.balanceChanged.balance).toBe(12);
    } finally {
      await back.dispose();
    }
  });

  describe('auth', () => {
    it('no token and a bad token are refused at connection_init with 4403', async () => {
      expect((await closeCodeOf(t.url, undefined)).code).toBe(4403);
      expect((await closeCodeOf(t.url, 'not.a.token')).code).toBe(4403);
    });

    it('an expired token is refused; a token that expires closes its socket then (4401)', async () => {
      // A number is an absolute time (seconds since the epoch).
      const now = Math.floor(Date.now() / 1000);
      const expired = await t.token('soon-gone', 'user', { expiresIn: now - 10 });
      expect((await closeCodeOf(t.url, expired)).code).toBe(4403);
      const shortLived = await t.token('soon-gone', 'user', { expiresIn: now + 2 });
      const started = Date.now();
      const closed = await closeCodeOf(t.url, shortLived);
      expect(closed).toEqual({ code: 4401, reason: 'Token expired' });
      expect(Date.now() - started).toBeLessThan(3500);
    });

    it("a user naming someone else's userId is FORBIDDEN; service and admin tokens may", async () => {
      await ensureUser(t, 'alice');
      const user = liveClient(t.url, await t.token('alice'));
      const svc = liveClient(t.url, service);
      try {
        const other = watch(user, BalanceChangedDocument, { userId: 'bob' });
        await other.ended;
        expect(other.errors).toEqual([
          expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) }),
        ]);
        const before = t.server.realtime.subscriberCount;
        const own = watch(user, BalanceChangedDocument, { userId: 'alice' });
        const byService = watch(svc, BalanceChangedDocument, { userId: 'alice' });
        await waitForListeners(() => t.server.realtime.subscriberCount, before + 2);
        await gql(t.url, AdjustCreditsDocument, {
          token: admin,
          variables: {
            input: { userId: 'alice', amount: 3, description: 'hi', idempotencyKey: randomUUID() },
          },
        });
        await own.until(1);
        await byService.until(1);
        // A service token must say whose balance it watches.
        const nobody = watch(svc, BalanceChangedDocument);
        await nobody.ended;
        expect(nobody.errors).toEqual([
          expect.objectContaining({
            extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }),
          }),
        ]);
      } finally {
        await user.dispose();
        await svc.dispose();
      }
    });
  });

  describe('orderStatusChanged', () => {
    it("starts with the order's state, then its change; another user's order is NOT_FOUND", async () => {
      const userId = `buyer-${randomUUID()}`;
      const token = await t.token(userId);
      const made = await gql(t.url, CreateCheckoutDocument, {
        token,
        variables: { input: { productId: 'credits-100' } },
      });
      const order = made.data!.createCheckout.order;
      const client = liveClient(t.url, token);
      const stranger = liveClient(t.url, await t.token('stranger'));
      try {
        const mine = watch(client, OrderStatusChangedDocument, { orderId: order.id });
        const all = watch(client, OrderStatusChangedDocument);
        const first = await mine.until(1);
        expect(first[0]!.data.orderStatusChanged).toMatchObject({
          id: order.id,
          status: 'PENDING',
        });
        await request(t.url).post(`/mock-checkout/${order.checkoutId}/pay`).send({});
        const [, completed] = await mine.until(2);
        expect(completed!.data.orderStatusChanged).toMatchObject({
          id: order.id,
          status: 'COMPLETED',
          credits: 100,
        });
        expect((await all.until(1))[0]!.data.orderStatusChanged.status).toBe('COMPLETED');
        // The provider refunds it: REFUNDED follows.
        await request(t.url).post(`/mock-checkout/${order.checkoutId}/refund`).send({});
        expect((await mine.until(3))[2]!.data.orderStatusChanged.status).toBe('REFUNDED');
        // A checkout the user abandons: CANCELLED.
        const other = await gql(t.url, CreateCheckoutDocument, {
          token,
          variables: { input: { productId: 'credits-100' } },
        });
        await request(t.url)
          .post(`/mock-checkout/${other.data!.createCheckout.order.checkoutId}/cancel`)
          .send({});
        const statuses = (await all.until(3)).map((e) => [
          e.data.orderStatusChanged.id,
          e.data.orderStatusChanged.status,
        ]);
        expect(statuses).toEqual([
          [order.id, 'COMPLETED'],
          [order.id, 'REFUNDED'],
          [other.data!.createCheckout.order.id, 'CANCELLED'],
        ]);
        const theirs = watch(stranger, OrderStatusChangedDocument, { orderId: order.id });
        await theirs.ended;
        expect(theirs.errors).toEqual([
          expect.objectContaining({ extensions: expect.objectContaining({ code: 'NOT_FOUND' }) }),
        ]);
      } finally {
        await client.dispose();
        await stranger.dispose();
      }
    });
  });
});

describe('WebSocket limits', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      WS_MAX_CONNECTIONS: '4',
      WS_MAX_CONNECTIONS_PER_USER: '2',
      WS_MAX_SUBSCRIPTIONS_PER_CONNECTION: '2',
      WS_BUFFER_EVENTS: '20',
      WS_KEEPALIVE_SECONDS: '1',
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('connections per user (4029) and in all (1013 at connection_init)', async () => {
    const token = await t.token('many');
    const open = async (tok: string) => {
      const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      ws.send(
        JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${tok}` } }),
      );
      await new Promise<void>((resolve) => ws.once('message', () => resolve()));
      return ws;
    };
    const a = await open(token);
    const b = await open(token);
    expect((await closeCodeOf(t.url, token)).code).toBe(4029);
    // A service token is bounded by the total only.
    const backend = await t.token('backend', 'service');
    const s1 = await open(backend);
    const s2 = await open(backend);
    s1.close();
    s2.close();
    await waitForListeners(() => 4 - t.server.webSocketConnections, 2);
    const c = await open(await t.token('other-1'));
    const d = await open(await t.token('other-2'));
    // Every signed-in place is taken: a fifth user is closed at connection_init with 1013
    // (try again later). Sockets not signed in yet have a budget of their own.
    expect((await closeCodeOf(t.url, await t.token('other-3'))).code).toBe(1013);
    for (const ws of [a, b, c, d]) ws.close();
    // Closed connections free their places.
    await waitForListeners(() => 4 - t.server.webSocketConnections, 4);
    const again = await open(token);
    again.close();
  });

  it('closed connections free their places: after orderStatusChanged(orderId), and mid-auth', async () => {
    const userId = `places-${randomUUID()}`;
    const token = await t.token(userId);
    const made = await gql(t.url, CreateCheckoutDocument, {
      token,
      variables: { input: { productId: 'credits-100' } },
    });
    const orderId = made.data!.createCheckout.order.id;
    const base = t.server.realtime.subscriberCount;
    for (let round = 0; round < 3; round++) {
      const clients = [liveClient(t.url, token), liveClient(t.url, token)];
      for (const client of clients) {
        await watch(client, OrderStatusChangedDocument, { orderId }).until(1);
      }
      await Promise.all(clients.map((c) => c.dispose()));
      await waitForListeners(() => (t.server.realtime.subscriberCount === base ? 1 : 0), 1);
    }
    // Sockets that leave while their token is being checked.
    for (let i = 0; i < 10; i++) {
      const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
      await new Promise((resolve) => ws.once('open', resolve));
      ws.send(
        JSON.stringify({
          type: 'connection_init',
          payload: { authorization: `Bearer ${await t.token(userId)}` },
        }),
      );
      ws.terminate();
    }
    await waitForListeners(() => (t.server.webSocketConnections === 0 ? 1 : 0), 1);
    const again = liveClient(t.url, token);
    try {
      expect((await watch(again, OrderStatusChangedDocument, { orderId }).until(1)).length).toBe(1);
    } finally {
      await again.dispose();
    }
  });

  it('at most WS_MAX_SUBSCRIPTIONS_PER_CONNECTION operations on one connection', async () => {
    const client = liveClient(t.url, await t.token('busy'));
    try {
      const one = watch(client, BalanceChangedDocument);
      const two = watch(client, BalanceChangedDocument);
      const three = watch(client, BalanceChangedDocument);
      await three.ended;
      expect(JSON.stringify(three.errors)).toMatch(/At most 2 operations/);
      expect(one.errors).toEqual([]);
      expect(two.errors).toEqual([]);
    } finally {
      await client.dispose();
    }
  });

  it('a client that stops reading is closed (1008) once its buffer fills; memory stays bounded', async () => {
    const token = await t.token('stuck');
    const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(
      JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }),
    );
    await new Promise<void>((resolve) => ws.once('message', () => resolve()));
    const before = t.server.realtime.subscriberCount;
    ws.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: { query: 'subscription { balanceChanged { balance } }' },
      }),
    );
    await waitForListeners(() => t.server.realtime.subscriberCount, before + 1);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    // Stop reading, then announce far more than the kernel's socket buffers hold.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const padding = 'x'.repeat(400);
    for (let i = 1; i <= 60_000; i++) {
      t.server.realtime.publishBalance({
        userId: 'stuck',
        balance: i,
        transaction: {
          id: randomUUID(),
          seq: String(i),
          userId: 'stuck',
          type: 'ADJUSTMENT',
          amount: 1,
          balanceAfter: i,
          description: padding,
          createdAt: new Date(),
        } as never,
      });
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    // The subscription ended on overflow: its listener is gone.
    await waitForListeners(() => before + 1 - t.server.realtime.subscriberCount, 1, 5000);
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(1008);
  });

  it('a client that answers no pings is dropped after the keep-alive', async () => {
    const token = await t.token('silent');
    const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', {
      autoPong: false,
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(
      JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }),
    );
    const started = Date.now();
    const code = await new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeLessThan(4000);
  });
});

(REDIS_URL ? describe : describe.skip)('several instances through Redis', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startTestServer({ REDIS_URL: REDIS_URL! });
    b = await startTestServer({ REDIS_URL: REDIS_URL!, DATABASE_URL: a.db.url });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('a subscriber on instance A sees a deduction made through instance B', async () => {
    const userId = `multi-${randomUUID()}`;
    const service = await b.token('app', 'service');
    await ensureUser(b, userId);
    await gql(b.url, AdjustCreditsDocument, {
      token: await b.token('ops', 'admin'),
      variables: { input: { userId, amount: 50, description: 'seed', idempotencyKey: 'seed' } },
    });
    const client = liveClient(a.url, await a.token(userId));
    try {
      const live = watch(client, BalanceChangedDocument);
      await waitForListeners(() => a.server.realtime.subscriberCount, 1);
      const sent = performance.now();
      const res = await gql(b.url, DeductCreditsDocument, {
        token: service,
        variables: { input: { userId, amount: 7, description: 'render', idempotencyKey: 'd1' } },
      });
      expect(res.data?.deductCredits.balance).toBe(43);
      const [event] = await live.until(1, 1000);
      expect(event!.data.balanceChanged).toMatchObject({
        userId,
        balance: 43,
        transaction: { type: 'CONSUMPTION', amount: -7 },
      });
      expect(event!.at - sent).toBeLessThan(1000);
    } finally {
      await client.dispose();
    }
  });
});

/** A TCP relay to Redis that the test can cut and restore: Redis "stopping" mid-test. */
class CuttableRelay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    this.server = createNetServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Drops every connection and stops accepting: to Tally, Redis is gone. */
  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

describe('Redis outages', () => {
  it('a dead REDIS_URL: the service serves, and local subscribers still get their updates', async () => {
    const t = await startTestServer({ REDIS_URL: 'redis://127.0.0.1:9' });
    const client = liveClient(t.url, await t.token('offline'));
    try {
      await ensureUser(t, 'offline');
      const live = watch(client, BalanceChangedDocument);
      await waitForListeners(() => t.server.realtime.subscriberCount, 1);
      const res = await gql(t.url, AdjustCreditsDocument, {
        token: await t.token('ops', 'admin'),
        variables: {
          input: { userId: 'offline', amount: 9, description: 'x', idempotencyKey: 'k' },
        },
      });
      expect(res.data?.adjustCredits.balance).toBe(9);
      expect((await live.until(1, 1000))[0]!.data.balanceChanged.balance).toBe(9);
      expect((await request(t.url).get('/healthz')).status).toBe(200);
      expect(t.logs.some((l) => /Redis unreachable/.test(String(l['msg'])))).toBe(true);
    } finally {
      await client.dispose();
      await t.close();
    }
  });

  (REDIS_URL ? it : it.skip)(
    'Redis down when an instance starts: it joins the others once Redis is reachable',
    async () => {
      const redis = new URL(REDIS_URL!);
      const relay = new CuttableRelay({ host: redis.hostname, port: Number(redis.port || 6379) });
      // A port nothing listens on yet.
      await relay.start();
      await relay.cut();
      const a = await startTestServer({ REDIS_URL: `redis://127.0.0.1:${relay.port}` });
      const b = await startTestServer({ REDIS_URL: REDIS_URL!, DATABASE_URL: a.db.url });
      const userId = `late-${randomUUID()}`;
      const client = liveClient(a.url, await a.token(userId));
      try {
        await ensureUser(b, userId);
        const live = watch(client, BalanceChangedDocument);
        await waitForListeners(() => a.server.realtime.subscriberCount, 1);
        await relay.start();
        const admin = await b.token('ops', 'admin');
        const deadline = Date.now() + 10_000;
        let key = 0;
        while (live.events.length === 0 && Date.now() < deadline) {
          await gql(b.url, AdjustCreditsDocument, {
            token: admin,
            variables: {
              input: { userId, amount: 1, description: 'x', idempotencyKey: String(key++) },
            },
          });
          await new Promise((r) => setTimeout(r, 250));
        }
        expect(live.events.length).toBeGreaterThan(0);
      } finally {
        await client.dispose();
        await b.close();
        await a.close();
        await relay.cut().catch(() => undefined);
      }
    },
    30_000,
  );

  (REDIS_URL ? it : it.skip)(
    'Redis stops mid-test: both instances keep serving, and cross-instance updates resume when it is back',
    async () => {
      const redis = new URL(REDIS_URL!);
      const relay = new CuttableRelay({ host: redis.hostname, port: Number(redis.port || 6379) });
      await relay.start();
      const via = `redis://${redis.username ? `${redis.username}@` : ''}127.0.0.1:${relay.port}`;
      const a = await startTestServer({ REDIS_URL: via });
      const b = await startTestServer({ REDIS_URL: via, DATABASE_URL: a.db.url });
      const userId = `outage-${randomUUID()}`;
      const onA = liveClient(a.url, await a.token(userId));
      const onB = liveClient(b.url, await b.token(userId));
      const service = await b.token('app', 'service');
      const spend = (key: string) =>
        gql(b.url, DeductCreditsDocument, {
          token: service,
          variables: { input: { userId, amount: 1, description: 'work', idempotencyKey: key } },
        });
      try {
        await ensureUser(b, userId);
        await gql(b.url, AdjustCreditsDocument, {
          token: await b.token('ops', 'admin'),
          variables: { input: { userId, amount: 10, description: 'seed', idempotencyKey: 's' } },
        });
        const watchA = watch(onA, BalanceChangedDocument);
        const watchB = watch(onB, BalanceChangedDocument);
        await waitForListeners(() => a.server.realtime.subscriberCount, 1);
        await waitForListeners(() => b.server.realtime.subscriberCount, 1);
        expect((await spend('1')).data?.deductCredits.balance).toBe(9);
        await watchA.until(1, 1000);

        await relay.cut();
        // Redis gone: B still serves and its own subscriber still hears; A misses it.
        expect((await spend('2')).data?.deductCredits.balance).toBe(8);
        await watchB.until(2, 1000);
        await new Promise((r) => setTimeout(r, 200));
        expect(watchA.events).toHaveLength(1);
        expect((await request(a.url).get('/healthz')).status).toBe(200);
        expect(
          (await gql(a.url, MeDocument, { token: await a.token(userId) })).data?.me.credits,
        ).toBe(8);

        // Redis back on the same port: the clients reconnect with backoff (≤ 5 s).
        await relay.start();
        const deadline = Date.now() + 10_000;
        let key = 3;
        while (watchA.events.length < 2 && Date.now() < deadline) {
          await spend(String(key++));
          await new Promise((r) => setTimeout(r, 250));
        }
        expect(watchA.events.length).toBeGreaterThanOrEqual(2);
        expect(watchA.events.at(-1)!.data.balanceChanged.balance).toBeLessThan(8);
      } finally {
        await onA.dispose();
        await onB.dispose();
        await b.close();
        await a.close();
        await relay.cut().catch(() => undefined);
      }
    },
    30_000,
  );
});
