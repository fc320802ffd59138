import { request as httpRequest, Agent } from 'node:http';
import { Client } from 'pg';
import { mockSignature } from '../../src/providers';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { freePort, startProcess, type Started } from '../support/process';

const DELIVERIES = Number(process.env['FAULT_DELIVERIES'] ?? 1000);
const KILLS = 5;
const SENDERS = 16;
const SECRET = 'fault-test-webhook-secret-0123456789';

/** One POST; resolves with the status, or 0 when the connection failed (the service is down). */
function post(port: number, body: string, agent: Agent): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/api/payment/callback',
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'mock-signature': mockSignature(SECRET, body),
        },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/**
 * The service is killed with SIGKILL five times while a provider delivers 1,000 signed
 * checkout.completed events, each retried until it gets a 2xx (as providers do). Afterwards
 * every order is completed and credited exactly once, and no balance drifts.
 */
describe('fault: kill -9 during webhook deliveries', () => {
  let db: TestDatabase;
  let admin: Client;
  let service: Started | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = new Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(
      `INSERT INTO user_profiles (id) SELECT 'fault-' || g FROM generate_series(1, $1) g`,
      [DELIVERIES],
    );
    await admin.query(
      `INSERT INTO orders (user_id, product_id, kind, status, amount_minor, currency, credits,
         provider, checkout_id)
       SELECT 'fault-' || g, 'credits-100', 'CREDIT_PACK', 'PENDING', 500, 'USD', 100, 'mock',
              'mck_fault_' || g
       FROM generate_series(1, $1) g`,
      [DELIVERIES],
    );
  });
  afterAll(async () => {
    if (service?.child.exitCode === null) service.child.kill('SIGKILL');
    await admin?.end();
    await db?.drop();
  });

  it('credits every order exactly once across five crashes; drift 0', async () => {
    const port = await freePort();
    const env = {
      PORT: String(port),
      DATABASE_URL: db.url,
      MOCK_WEBHOOK_SECRET: SECRET,
      JOBS_ENABLED: 'false',
      RATE_LIMIT_CALLBACK_PER_MINUTE: '1000000',
    };
    service = await startProcess(env);
    const orders = (
      await admin.query<{ id: string; checkout_id: string }>(
        `SELECT id, checkout_id FROM orders ORDER BY checkout_id`,
      )
    ).rows;
    const agent = new Agent({ keepAlive: true, maxSockets: SENDERS });
    let acknowledged = 0;
    let attempts = 0;
    let refused = 0;
    let next = 0;
    const started = Date.now();

    const sender = async () => {
      for (;;) {
        const order = orders[next++];
        if (!order) return;
        const body = JSON.stringify({
          id: `evt_${order.checkout_id}`,
          type: 'checkout.completed',
          created_at: new Date().toISOString(),
          data: {
            checkout_id: order.checkout_id,
            order_id: order.id,
            transaction_id: `txn_${order.checkout_id}`,
            amount: 500,
            currency: 'USD',
          },
        });
        // Retried until acknowledged, as a provider does; a new signature each time.
        for (;;) {
          attempts++;
          const status = await post(port, body, agent);
          if (status >= 200 && status < 300) break;
          refused++;
          await new Promise((r) => setTimeout(r, 50));
        }
        acknowledged++;
      }
    };

    const killer = async () => {
      for (let kill = 1; kill <= KILLS; kill++) {
        const due = Math.floor((DELIVERIES * kill) / (KILLS + 1));
        while (acknowledged < due) await new Promise((r) => setTimeout(r, 5));
        service!.child.kill('SIGKILL');
        await service!.exited;
        agent.destroy();
        service = await startProcess(env);
      }
    };

    await Promise.all([killer(), ...Array.from({ length: SENDERS }, sender)]);
    agent.destroy();
    const seconds = (Date.now() - started) / 1000;

    const [check] = (
      await admin.query<{
        completed: number;
        purchases: number;
        orders_with_one: number;
        processed: number;
        credits: number;
      }>(
        `SELECT
           (SELECT count(*)::int FROM orders WHERE status = 'COMPLETED') AS completed,
           (SELECT count(*)::int FROM credit_transactions WHERE type = 'PURCHASE') AS purchases,
           (SELECT count(DISTINCT order_id)::int FROM credit_transactions WHERE type = 'PURCHASE')
             AS orders_with_one,
           (SELECT count(*)::int FROM webhook_events WHERE status = 'PROCESSED') AS processed,
           (SELECT sum(credits)::int FROM user_profiles WHERE id LIKE 'fault-%') AS credits`,
      )
    ).rows;
    const drift = (
      await admin.query(
        `SELECT p.id FROM user_profiles p
         LEFT JOIN credit_transactions t ON t.user_id = p.id
         GROUP BY p.id, p.credits HAVING p.credits <> COALESCE(sum(t.amount), 0)`,
      )
    ).rowCount;
    process.stdout.write(
      `fault kill-9: ${DELIVERIES} deliveries, ${KILLS} kills, ${attempts} attempts ` +
        `(${refused} refused or failed while down), ${seconds.toFixed(1)} s; ` +
        `completed ${check!.completed}, PURCHASE rows ${check!.purchases}, drift ${drift}\n`,
    );
    expect(acknowledged).toBe(DELIVERIES);
    expect(refused).toBeGreaterThan(0); // the kills really interrupted deliveries
    expect(check).toEqual({
      completed: DELIVERIES,
      purchases: DELIVERIES,
      orders_with_one: DELIVERIES,
      processed: DELIVERIES,
      credits: DELIVERIES * 100,
    });
    expect(drift).toBe(0);
  }, 180_000);
});
