import { randomUUID } from 'node:crypto';
import request from 'supertest';
import WebSocket from 'ws';
import { mockSignature } from '../../src/providers';
import { CreateCheckoutDocument, DeductCreditsDocument } from '../generated/graphql';
import { FakePaddle } from '../support/fake-paddle';
import { gql } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/server';

/** Things that must never appear in a log line, planted through every way in. */
const EMAIL = 'carol.planted@example.org';
const CARD = '4242424242424242';
const CARD_SPACED = '5555 5555 5555 4444';

describe('logs: request ids and no secrets', () => {
  let t: TestServer;
  let fake: FakePaddle;
  let paddle: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ MOCK_WEBHOOK_SECRET: 'planted-mock-webhook-secret-0001' });
    fake = new FakePaddle(
      'pdl_sdbx_apikey_planted_0123456789abcdef',
      'pdl_ntfset_planted_0123456789',
      {
        pri_credits100: { amount: 500, currency: 'USD', recurring: false },
        pri_credits1000: { amount: 4000, currency: 'USD', recurring: false },
        pri_planmonthly: { amount: 1900, currency: 'USD', recurring: true },
      },
    );
    await fake.start();
    paddle = await startTestServer({
      PAYMENT_PROVIDER: 'paddle',
      PADDLE_TEST_API_KEY: fake.apiKey,
      PADDLE_TEST_WEBHOOK_SECRET: fake.webhookSecret,
      PADDLE_TEST_PRICE_CREDITS_100: 'pri_credits100',
      PADDLE_TEST_PRICE_CREDITS_1000: 'pri_credits1000',
      PADDLE_TEST_PRICE_PLAN_MONTHLY: 'pri_planmonthly',
      PADDLE_API_URL: fake.url,
    });
  });
  afterAll(async () => {
    await paddle?.close();
    await fake?.stop();
    await t?.close();
  });

  it('every line written while serving a request carries its id, which the response echoes', async () => {
    const mine = await request(t.url)
      .post('/graphql')
      .set('x-request-id', 'client-trace-42')
      .set('authorization', `Bearer ${await t.token('rid-user')}`)
      .send({ query: '{ me { id credits } }' });
    expect(mine.headers['x-request-id']).toBe('client-trace-42');
    const fresh = await request(t.url).get('/healthz').set('x-request-id', 'bad id with spaces');
    expect(fresh.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);

    // A webhook writes several lines; all carry the request's id.
    const event = {
      id: `evt_${randomUUID()}`,
      type: 'payout.paid',
      created_at: new Date().toISOString(),
      data: {},
    };
    const body = JSON.stringify(event);
    const res = await request(t.url)
      .post('/api/payment/callback')
      .set('content-type', 'application/json')
      .set('x-request-id', 'webhook-trace-7')
      .set('mock-signature', mockSignature(t.config.mockWebhookSecret, body))
      .send(body);
    expect(res.status).toBe(200);
    const lines = t.logs.filter((l) => l['eventId'] === event.id);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line['requestId']).toBe('webhook-trace-7');
  });

  it("a WebSocket connection's operations log with its id", async () => {
    const admin = await t.token('ops', 'admin');
    const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', {
      headers: { 'x-request-id': 'ws-trace-9' },
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(
      JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${admin}` } }),
    );
    await new Promise((resolve) => ws.once('message', resolve));
    const orderId = randomUUID();
    ws.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: { query: `mutation { reconcileOrder(orderId: "${orderId}") { id } }` },
      }),
    );
    await new Promise((resolve) => ws.once('message', resolve));
    ws.close();
    const line = t.logs.find(
      (l) => l['msg'] === 'admin reconciles an order' && l['orderId'] === orderId,
    );
    expect(line?.['requestId']).toBe('ws-trace-9');
  });

  it('planted tokens, keys, signatures, e-mails and card numbers appear in no log line', async () => {
    const userToken = await t.token('planted-user');
    const planted: string[] = [
      userToken,
      t.config.mockWebhookSecret,
      EMAIL,
      CARD,
      CARD_SPACED,
      fake.apiKey,
    ];

    // 1. A signed webhook whose ids carry an e-mail and card numbers: it fails (no such
    //    order), and the error, with those ids in its message, is logged.
    const event = {
      id: `evt_${randomUUID()}`,
      type: 'checkout.completed',
      created_at: new Date().toISOString(),
      data: {
        checkout_id: `${EMAIL}/${CARD}`,
        order_id: randomUUID(),
        transaction_id: `txn ${CARD_SPACED}`,
        amount: 500,
        currency: 'USD',
      },
    };
    const body = JSON.stringify(event);
    const signature = mockSignature(t.config.mockWebhookSecret, body);
    planted.push(signature.split('v1=')[1]!);
    const failed = await request(t.url)
      .post('/api/payment/callback')
      .set('content-type', 'application/json')
      .set('mock-signature', signature)
      .send(body);
    expect(failed.status).toBe(500);

    // 2. A forged delivery with a user's token in its headers.
    const forged = await request(t.url)
      .post('/api/payment/callback')
      .set('content-type', 'application/json')
      .set('authorization', `Bearer ${userToken}`)
      .set('mock-signature', `t=${Math.floor(Date.now() / 1000)},v1=${'ab'.repeat(32)}`)
      .send(JSON.stringify({ id: 'x', type: 'checkout.completed', data: { email: EMAIL } }));
    expect(forged.status).toBe(401);

    // 3. GraphQL inputs with personal data in them, and a bad token.
    await gql(t.url, DeductCreditsDocument, {
      token: await t.token('svc', 'service'),
      variables: {
        input: {
          userId: EMAIL,
          amount: 1,
          description: `render for ${EMAIL} card ${CARD}`,
          idempotencyKey: CARD,
        },
      },
    });
    await request(t.url)
      .post('/graphql')
      .set('authorization', `Bearer ${userToken}x`)
      .send({ query: '{ me { id } }' });

    // 4. A provider that repeats its API key back in an error.
    fake.mode = 'echo';
    const outage = await gql(paddle.url, CreateCheckoutDocument, {
      token: await paddle.token('paddle-user'),
      variables: { input: { productId: 'credits-100' } },
    });
    fake.mode = 'ok';
    expect(outage.errors?.[0]?.extensions?.['code']).toBe('PROVIDER_ERROR');

    const all = [...t.rawLogs, ...paddle.rawLogs].join('\n');
    for (const secret of planted) expect(all).not.toContain(secret);
    expect(all).not.toContain('4242 4242 4242 4242');
    // Not vacuous: the lines about those events were written, scrubbed.
    expect(all).toMatch(/webhook failed/);
    expect(all).toContain('[email]');
    expect(all).toContain('[card]');
    expect(paddle.rawLogs.join('\n')).toMatch(/provider failed to create a checkout/);
    expect(paddle.rawLogs.join('\n')).toContain('[secret ****cdef]');
  });
});
