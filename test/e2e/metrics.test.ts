import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { mockSignature } from '../../src/providers';
import {
  BalanceChangedDocument,
  CreateCheckoutDocument,
  DeductCreditsDocument,
  MeDocument,
} from '../generated/graphql';
import { gql } from '../support/graphql';
import { liveClient, waitForListeners, watch } from '../support/live';
import { startTestServer, type TestServer } from '../support/server';

/** One sample's value from Prometheus' text format; 0 when the series does not exist yet. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = Object.fromEntries(
      [...(match[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(match[4]);
  }
  return 0;
}

describe('/metrics', () => {
  let t: TestServer;
  const TOKEN = 'metrics-token-for-tests-0123';

  beforeAll(async () => {
    t = await startTestServer({
      METRICS_TOKEN: TOKEN,
      RATE_LIMIT_CHECKOUT_PER_MINUTE: '3',
      JOBS_ENABLED: 'true',
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const scrape = async () => {
    const res = await request(t.url).get('/metrics').set('authorization', `Bearer ${TOKEN}`);
    expect(res.status).toBe(200);
    return res.text;
  };

  it('wants the metrics token when one is configured', async () => {
    expect((await request(t.url).get('/metrics')).status).toBe(401);
    expect(
      (await request(t.url).get('/metrics').set('authorization', 'Bearer wrong-token-000000'))
        .status,
    ).toBe(401);
    expect(await scrape()).toContain('tally_http_requests_total');
  });

  it('counts payments, webhooks, checkouts, movements, refunds and rate-limit refusals', async () => {
    const before = await scrape();
    const token = await t.token(`m-${randomUUID()}`);
    const made = await gql(t.url, CreateCheckoutDocument, {
      token,
      variables: { input: { productId: 'credits-100' } },
    });
    const checkoutId = made.data!.createCheckout.order.checkoutId!;
    const paid = await request(t.url).post(`/mock-checkout/${checkoutId}/pay`).send({});
    // The provider delivers the same event again: a duplicate.
    const body = JSON.stringify(paid.body.event);
    await request(t.url)
      .post('/api/payment/callback')
      .set('content-type', 'application/json')
      .set('mock-signature', mockSignature(t.config.mockWebhookSecret, body))
      .send(body);
    // A forged one: rejected.
    await request(t.url)
      .post('/api/payment/callback')
      .set('content-type', 'application/json')
      .send(body);
    await request(t.url).post(`/mock-checkout/${checkoutId}/refund`).send({ amount: 100 });
    await gql(t.url, DeductCreditsDocument, {
      token: await t.token('svc', 'service'),
      variables: {
        input: {
          userId: (await gql(t.url, MeDocument, { token })).data!.me.id,
          amount: 5,
          description: 'render',
          idempotencyKey: 'k',
        },
      },
    });
    // Over the checkout limit of 3 a minute.
    const limited = await t.token(`limited-${randomUUID()}`);
    for (let i = 0; i < 4; i++) {
      await gql(t.url, CreateCheckoutDocument, {
        token: limited,
        variables: { input: { productId: 'credits-100' } },
      });
    }

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(delta('tally_payments_total', { outcome: 'completed' })).toBe(1);
    expect(delta('tally_checkouts_total', { outcome: 'created' })).toBe(4);
    expect(delta('tally_rate_limit_rejections_total', { limit: 'checkout' })).toBe(1);
    expect(
      delta('tally_webhook_events_total', { kind: 'checkout.completed', outcome: 'processed' }),
    ).toBe(1);
    expect(
      delta('tally_webhook_events_total', { kind: 'checkout.completed', outcome: 'duplicate' }),
    ).toBe(1);
    expect(delta('tally_webhook_events_total', { kind: 'unknown', outcome: 'rejected' })).toBe(1);
    expect(delta('tally_webhook_events_total', { kind: 'refund', outcome: 'processed' })).toBe(1);
    expect(delta('tally_webhook_processing_seconds_count', { kind: 'checkout.completed' })).toBe(2);
    expect(delta('tally_refunds_total', { kind: 'order' })).toBe(1);
    expect(delta('tally_ledger_movements_total', { type: 'PURCHASE' })).toBe(1);
    expect(delta('tally_ledger_movements_total', { type: 'CLAWBACK' })).toBe(1);
    expect(delta('tally_ledger_movements_total', { type: 'CONSUMPTION' })).toBe(1);
    expect(
      delta('tally_graphql_operation_duration_seconds_count', { operation: 'mutation' }),
    ).toBeGreaterThanOrEqual(6);
  });

  it('counts failed webhooks by condition code, and refused status moves', async () => {
    const before = await scrape();
    const send = (event: Record<string, unknown>) => {
      const body = JSON.stringify(event);
      return request(t.url)
        .post('/api/payment/callback')
        .set('content-type', 'application/json')
        .set('mock-signature', mockSignature(t.config.mockWebhookSecret, body))
        .send(body);
    };
    const at = new Date().toISOString();
    const early = await send({
      id: `evt_${randomUUID()}`,
      type: 'subscription.past_due',
      created_at: at,
      data: { subscription_id: `sub_${randomUUID()}` },
    });
    expect(early.status).toBe(500);
    expect(early.body).toMatchObject({ code: 'SUBSCRIPTION_NOT_YET_KNOWN' });
    // A provider's cancellation of an order its payment already completed.
    const token = await t.token(`m-${randomUUID()}`);
    const made = await gql(t.url, CreateCheckoutDocument, {
      token,
      variables: { input: { productId: 'credits-100' } },
    });
    const order = made.data!.createCheckout.order;
    await request(t.url).post(`/mock-checkout/${order.checkoutId}/pay`).send({});
    const late = await send({
      id: `evt_${randomUUID()}`,
      type: 'checkout.cancelled',
      created_at: at,
      data: { checkout_id: order.checkoutId, order_id: order.id },
    });
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ status: 'IGNORED' });

    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);
    expect(delta('tally_webhook_failures_total', { code: 'SUBSCRIPTION_NOT_YET_KNOWN' })).toBe(1);
    expect(delta('tally_webhook_failures_total', { code: 'ILLEGAL_TRANSITION' })).toBe(1);
    expect(
      delta('tally_status_moves_refused_total', {
        entity: 'order',
        from: 'COMPLETED',
        to: 'CANCELLED',
      }),
    ).toBe(1);
  });

  it('reports the drift check, the pool and the live connections', async () => {
    expect(await t.server.scheduler.runNow('credit-drift-check')).toBe(true);
    const client = liveClient(t.url, await t.token('watcher'));
    try {
      const base = t.server.realtime.subscriberCount;
      watch(client, BalanceChangedDocument);
      await waitForListeners(() => t.server.realtime.subscriberCount, base + 1);
      const text = await scrape();
      expect(sample(text, 'tally_credit_drift_users')).toBe(0);
      expect(text).toMatch(/^tally_credit_reserved_drift_users 0$/m);
      expect(sample(text, 'tally_users')).toBeGreaterThan(0);
      expect(sample(text, 'tally_credit_drift_checked_timestamp_seconds')).toBeGreaterThan(
        Date.now() / 1000 - 60,
      );
      expect(
        sample(text, 'tally_job_runs_total', { job: 'credit-drift-check', outcome: 'done' }),
      ).toBe(1);
      expect(sample(text, 'tally_db_pool_connections')).toBeGreaterThan(0);
      expect(text).toMatch(/^tally_db_pool_waiting \d+$/m);
      expect(sample(text, 'tally_websocket_connections')).toBe(1);
      expect(sample(text, 'tally_realtime_subscribers')).toBe(base + 1);
    } finally {
      await client.dispose();
    }
  });
});
