import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { CreateCheckoutDocument, MyBillingDocument } from '../generated/graphql';
import { gql } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/server';

/** Two instances on one database: the stuck-order reconciliation runs once per period. */
describe('scheduled jobs across instances', () => {
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    const env = { RECONCILE_INTERVAL_SECONDS: '10', RECONCILE_AFTER_MINUTES: '1' };
    a = await startTestServer(env);
    b = await startTestServer({ ...env, DATABASE_URL: a.db.url });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('a paid order whose webhook was lost is completed by one instance, once', async () => {
    const userId = `sched-${randomUUID()}`;
    const token = await a.token(userId);
    const created = await gql(a.url, CreateCheckoutDocument, {
      token,
      variables: { input: { productId: 'credits-100' } },
    });
    const { id: orderId, checkoutId } = created.data!.createCheckout.order;
    await request(a.url).post(`/mock-checkout/${checkoutId}/pay`).send({ sendWebhook: false });
    const ds = a.server.dataSource;
    await ds.query(`UPDATE orders SET created_at = now() - interval '5 minutes' WHERE id = $1`, [
      orderId,
    ]);
    // Make the job due now on both instances; their timers race for it.
    await ds.query(`DELETE FROM job_runs`);

    const deadline = Date.now() + 8000;
    let status = 'PENDING';
    while (status === 'PENDING' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      [{ status }] = await ds.query('SELECT status FROM orders WHERE id = $1', [orderId]);
    }
    expect(status).toBe('COMPLETED');
    const me = await gql(b.url, MyBillingDocument, { token: await b.token(userId) });
    expect(me.data?.me.credits).toBe(100);

    const completedRuns = [...a.logs, ...b.logs].filter(
      (line) =>
        line['msg'] === 'scheduled job done' &&
        line['job'] === 'reconcile-stuck-orders' &&
        (line['summary'] as Record<string, number> | undefined)?.['COMPLETED'] === 1,
    );
    expect(completedRuns).toHaveLength(1);
    // Within the period, neither instance may run it again.
    expect(await a.server.scheduler.runIfDue('reconcile-stuck-orders')).toBe(false);
    expect(await b.server.scheduler.runIfDue('reconcile-stuck-orders')).toBe(false);
  });
});
