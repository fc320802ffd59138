import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { silentLogger } from '../../src/observability';
import { MockProvider } from '../../src/providers';
import { startTestServer, type TestServer } from '../support/server';

/** The mock provider's hosted pages and dashboard routes, served by a running Tally. */
describe('mock checkout pages', () => {
  let t: TestServer;
  let provider: MockProvider;

  beforeAll(async () => {
    t = await startTestServer();
    // Another handle on the same provider state (it lives in the database).
    provider = new MockProvider({
      dataSource: t.server.dataSource,
      webhookSecret: t.config.mockWebhookSecret,
      publicUrl: () => t.url,
      webhookUrl: () => `${t.url}/api/payment/callback`,
      logger: silentLogger,
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const open = (name = '100 credits') =>
    provider.createCheckout({
      orderId: randomUUID(),
      userId: 'page-user',
      product: {
        id: 'credits-100',
        name,
        kind: 'CREDIT_PACK',
        priceMinor: 500,
        currency: 'USD',
        interval: null,
      },
    });

  it('shows the product and price with Pay and Cancel, escaping what it prints', async () => {
    const session = await open('100 credits <script>alert(1)</script>');
    expect(session.url).toBe(`${t.url}/mock-checkout/${session.checkoutId}`);
    const page = await request(t.url).get(`/mock-checkout/${session.checkoutId}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('$5.00');
    expect(page.text).toContain('id="pay"');
    expect(page.text).toContain('id="cancel"');
    expect(page.text).not.toContain('<script>alert(1)</script>');
    expect(page.text).toContain('&#60;script&#62;');
  });

  it("Pay sends the browser back to Tally's redirect callback with 303", async () => {
    const session = await open();
    const row = (await provider.fake.store.find(session.checkoutId))!;
    const res = await request(t.url)
      .post(`/mock-checkout/${session.checkoutId}/pay`)
      .type('form')
      .send('');
    expect(res.status).toBe(303);
    const back = new URL(res.headers['location'] as string);
    expect(`${back.origin}${back.pathname}`).toBe(`${t.url}/api/payment/callback`);
    expect(Object.fromEntries(back.searchParams)).toEqual({
      order_id: row.orderId,
      checkout_id: session.checkoutId,
      status: 'success',
    });
    const page = await request(t.url).get(`/mock-checkout/${session.checkoutId}`);
    expect(page.text).toContain('This checkout is paid.');
    expect(page.text).not.toContain('id="pay"');
  });

  it('dashboard routes answer JSON: the event sent, or what a provider would refuse', async () => {
    const session = await open();
    const cancel = await request(t.url)
      .post(`/mock-checkout/${session.checkoutId}/cancel`)
      .send({});
    expect(cancel.status).toBe(200);
    expect(cancel.body.event).toMatchObject({ type: 'checkout.cancelled' });
    const pay = await request(t.url).post(`/mock-checkout/${session.checkoutId}/pay`).send({});
    expect(pay.status).toBe(409);
    const refund = await request(t.url)
      .post(`/mock-checkout/${session.checkoutId}/refund`)
      .send({ amount: '100' });
    expect(refund.status).toBe(400);
    const unknown = await request(t.url).post('/mock-checkout/mck_000000000000000000000000/pay');
    expect(unknown.status).toBe(404);
    expect((await request(t.url).get('/mock-checkout/nope')).status).toBe(404);
  });
});
