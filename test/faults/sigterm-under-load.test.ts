import { Agent, request as httpRequest } from 'node:http';
import { Client } from 'pg';
import { signToken } from '../../src/auth';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { freePort, startProcess } from '../support/process';
import { TEST_JWT_SECRET } from '../support/server';

interface Sent {
  key: string;
  started: number;
  ended: number;
  /** HTTP status, or 0 for a connection refused or reset. */
  status: number;
}

function deduct(port: number, agent: Agent, token: string, key: string): Promise<number> {
  const body = JSON.stringify({
    query: `mutation($input: DeductCreditsInput!) { deductCredits(input: $input) { balance } }`,
    variables: {
      input: { userId: 'term-user', amount: 1, description: 'work', idempotencyKey: key },
    },
  });
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/graphql',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/**
 * SIGTERM while 16 clients keep deducting: requests already being served finish, new
 * connections are refused, the process exits 0 within 10 s, and every acknowledged
 * deduction is in the ledger.
 */
describe('fault: SIGTERM under load', () => {
  let db: TestDatabase;
  let admin: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = new Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`INSERT INTO user_profiles (id, credits) VALUES ('term-user', 1000000)`);
    await admin.query(
      `INSERT INTO credit_transactions (user_id, type, amount, balance_after, description)
       VALUES ('term-user', 'ADJUSTMENT', 1000000, 1000000, 'seed')`,
    );
  });
  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  it('drains in-flight requests, refuses new ones, exits 0 within 10 s, loses nothing', async () => {
    const port = await freePort();
    const service = await startProcess({
      PORT: String(port),
      DATABASE_URL: db.url,
      JWT_SECRET: TEST_JWT_SECRET,
      JOBS_ENABLED: 'false',
    });
    const token = await signToken({ secret: TEST_JWT_SECRET, subject: 'app', role: 'service' });
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const sent: Sent[] = [];
    let stopAt = Infinity;
    let n = 0;
    const worker = async () => {
      // Keep sending until well after the signal, to see new requests refused.
      while (Date.now() < stopAt + 1500) {
        const key = `t-${n++}`;
        const started = Date.now();
        const status = await deduct(port, agent, token, key);
        sent.push({ key, started, ended: Date.now(), status });
        if (status === 0) await new Promise((r) => setTimeout(r, 20));
      }
    };
    const load = Array.from({ length: 16 }, worker);
    await new Promise((r) => setTimeout(r, 1500));
    stopAt = Date.now();
    service.child.kill('SIGTERM');
    const exit = await service.exited;
    const exitMs = Date.now() - stopAt;
    await Promise.all(load);
    agent.destroy();

    const before = sent.filter((s) => s.ended < stopAt);
    const spanning = sent.filter((s) => s.started < stopAt && s.ended >= stopAt);
    const after = sent.filter((s) => s.started > stopAt + 500);
    const acknowledged = sent.filter((s) => s.status === 200).map((s) => s.key);
    process.stdout.write(
      `fault sigterm: exit ${String(exit.code)} after ${exitMs} ms; ${before.length} answered before, ` +
        `${spanning.length} in flight at the signal (${spanning.filter((s) => s.status === 200).length} answered 200), ` +
        `${after.length} sent later (${after.filter((s) => s.status === 0).length} refused)\n`,
    );
    expect(exit.code).toBe(0);
    expect(exitMs).toBeLessThan(10_000);
    expect(sent.filter((s) => s.status >= 500)).toEqual([]);
    expect(before.every((s) => s.status === 200)).toBe(true);
    // In flight when the signal came (and surely received: sent 20 ms before it): answered.
    for (const s of spanning.filter((x) => x.started < stopAt - 20)) expect(s.status).toBe(200);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((s) => s.status === 0)).toBe(true);

    const rows = await admin.query<{ key: string }>(
      `SELECT key FROM idempotency_keys WHERE user_id = 'term-user' AND operation = 'deduct'`,
    );
    const stored = new Set(rows.rows.map((r) => r.key));
    for (const key of acknowledged) expect(stored).toContain(key);
    const [balance] = (
      await admin.query<{ credits: number; sum: number }>(
        `SELECT credits, (SELECT sum(amount)::int FROM credit_transactions WHERE user_id = 'term-user') AS sum
         FROM user_profiles WHERE id = 'term-user'`,
      )
    ).rows;
    expect(balance!.credits).toBe(balance!.sum);
  }, 120_000);
});
