import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { mockSignature } from '../../src/providers';
import { CreateCheckoutDocument } from '../generated/graphql';
import { gql } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/server';

const REDIS_URL = process.env['TALLY_TEST_REDIS_URL'];

describe('rate limits', () => {
  describe('in-process', () => {
    let t: TestServer;
    beforeAll(async () => {
      // The tests play clients behind a proxy on this machine, which names them in
      // X-Forwarded-For.
      t = await startTestServer({
        RATE_LIMIT_CHECKOUT_PER_MINUTE: '3',
        RATE_LIMIT_CALLBACK_PER_MINUTE: '5',
        TRUST_PROXY: 'loopback',
      });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('createCheckout: the 4th in a minute is RATE_LIMITED, 429 with Retry-After', async () => {
      const token = await t.token(`limited-${randomUUID()}`);
      const make = () =>
        gql(t.url, CreateCheckoutDocument, {
          token,
          variables: { input: { productId: 'credits-100' } },
        });
      for (let i = 0; i < 3; i++) expect((await make()).status).toBe(200);
      const over = await make();
      expect(over.status).toBe(429);
      const retryAfter = Number(over.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(over.errors?.[0]?.extensions).toMatchObject({
        code: 'RATE_LIMITED',
        retryAfter,
      });
      // Another user has a budget of their own.
      const other = await gql(t.url, CreateCheckoutDocument, {
        token: await t.token(`other-${randomUUID()}`),
        variables: { input: { productId: 'credits-100' } },
      });
      expect(other.status).toBe(200);
      const orders = await t.server.dataSource.query(
        `SELECT count(*)::int AS n FROM orders o JOIN user_profiles p ON p.id = o.user_id WHERE p.id LIKE 'limited-%'`,
      );
      expect(orders).toEqual([{ n: 3 }]);
    });

    it('/api/payment/callback: the 6th from one IP in a minute is 429, other IPs go on', async () => {
      const hit = (ip: string) =>
        request(t.url)
          .post('/api/payment/callback')
          .set('x-forwarded-for', ip)
          .set('content-type', 'application/json')
          .send('{}');
      for (let i = 0; i < 5; i++) expect((await hit('203.0.113.7')).status).toBe(401);
      const over = await hit('203.0.113.7');
      expect(over.status).toBe(429);
      expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await hit('203.0.113.8')).status).toBe(401);
    });

    it("the provider's verified webhooks are never limited; forged ones from its IP still are", async () => {
      const ip = '198.51.100.20';
      const signed = () => {
        const body = JSON.stringify({
          id: `evt_${randomUUID()}`,
          type: 'payout.paid',
          created_at: new Date().toISOString(),
          data: {},
        });
        return request(t.url)
          .post('/api/payment/callback')
          .set('x-forwarded-for', ip)
          .set('content-type', 'application/json')
          .set('mock-signature', mockSignature(t.config.mockWebhookSecret, body))
          .send(body);
      };
      const forged = () =>
        request(t.url)
          .post('/api/payment/callback')
          .set('x-forwarded-for', ip)
          .set('content-type', 'application/json')
          .set('mock-signature', `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}`)
          .send('{}');
      const statuses = [];
      for (let i = 0; i < 12; i++) statuses.push((await signed()).status);
      expect(statuses).toEqual(Array(12).fill(200));
      for (let i = 0; i < 5; i++) expect((await forged()).status).toBe(401);
      expect((await forged()).status).toBe(429);
      // A verified delivery from the same address still goes through.
      expect((await signed()).status).toBe(200);
    });
  });

  describe('X-Forwarded-For from a client (TRUST_PROXY unset)', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer({ RATE_LIMIT_CALLBACK_PER_MINUTE: '5' });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('is not believed: a client rotating it is still one address, and limited', async () => {
      // Before TRUST_PROXY, loopback was always trusted: 300 of 300 such requests passed.
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await request(t.url)
          .post('/api/payment/callback')
          .set('x-forwarded-for', `203.0.113.${i + 1}`)
          .set('content-type', 'application/json')
          .send('{}');
        statuses.push(res.status);
      }
      expect(statuses).toEqual([...Array(5).fill(401), ...Array(15).fill(429)]);
      const callbacks: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await request(t.url)
          .get('/api/payment/callback?order_id=x&checkout_id=y&status=success')
          .set('x-forwarded-for', `198.51.100.${i + 1}`);
        callbacks.push(res.status);
      }
      expect(callbacks).toEqual([429, 429, 429]);
    });
  });

  describe('with Redis unreachable', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer({
        REDIS_URL: 'redis://127.0.0.1:9',
        RATE_LIMIT_CALLBACK_PER_MINUTE: '2',
        TRUST_PROXY: 'loopback',
      });
    });
    afterAll(async () => {
      await t?.close();
    });

    it('keeps serving, limited by the in-process stand-in', async () => {
      const hit = () =>
        request(t.url)
          .post('/api/payment/callback')
          .set('x-forwarded-for', '192.0.2.1')
          .set('content-type', 'application/json')
          .send('{}');
      expect((await hit()).status).toBe(401);
      expect((await hit()).status).toBe(401);
      expect((await hit()).status).toBe(429);
      expect((await request(t.url).get('/healthz')).status).toBe(200);
    });
  });

  (REDIS_URL ? describe : describe.skip)('shared through Redis by two instances', () => {
    let a: TestServer;
    let b: TestServer;
    beforeAll(async () => {
      const env = {
        REDIS_URL: REDIS_URL!,
        RATE_LIMIT_CALLBACK_PER_MINUTE: '4',
        TRUST_PROXY: 'loopback',
      };
      a = await startTestServer(env);
      b = await startTestServer(env);
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
    });

    it('counts one IP across both instances', async () => {
      // A fresh address each run: the counters live in the machine's Redis for a minute.
      const ip = `2001:db8::${randomUUID().slice(0, 4)}:${randomUUID().slice(0, 4)}`;
      const hit = (t: TestServer) =>
        request(t.url)
          .post('/api/payment/callback')
          .set('x-forwarded-for', ip)
          .set('content-type', 'application/json')
          .send('{}');
      expect((await hit(a)).status).toBe(401);
      expect((await hit(b)).status).toBe(401);
      expect((await hit(a)).status).toBe(401);
      expect((await hit(b)).status).toBe(401);
      expect((await hit(a)).status).toBe(429);
      expect((await hit(b)).status).toBe(429);
    });
  });
});
