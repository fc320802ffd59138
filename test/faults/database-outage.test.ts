import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { AdjustCreditsDocument, DeductCreditsDocument, MeDocument } from '../generated/graphql';
import { gql } from '../support/graphql';
import { freePort, startDatabaseProcess } from '../support/process';
import { startTestServer, type TestServer } from '../support/server';

interface Attempt {
  key: string;
  started: number;
  ms: number;
  status: number;
  retryAfter: string | undefined;
}

/**
 * PostgreSQL stops under load and starts again. While it is down, requests fail fast with
 * 503 and Retry-After and /readyz says so; once it is back the service recovers by itself
 * within 10 s; every deduction that was acknowledged is in the ledger, and nothing drifts.
 */
describe('fault: PostgreSQL stopped and started under load', () => {
  let dir: string;
  let pg: { url: string; stop: () => Promise<void> } | undefined;
  let t: TestServer | undefined;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tally-outage-'));
    chmodSync(dir, 0o755);
    port = await freePort();
    pg = await startDatabaseProcess(path.join(dir, 'pg'), port, 'tally_outage');
    t = await startTestServer({
      DATABASE_URL: pg.url,
      DATABASE_POOL_WAIT_MS: '1000',
      JOBS_ENABLED: 'false',
    });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('503 with Retry-After while down, back within 10 s, nothing acknowledged lost', async () => {
    const server = t!;
    const userId = 'outage-user';
    const userToken = await server.token(userId);
    await gql(server.url, MeDocument, { token: userToken });
    await gql(server.url, AdjustCreditsDocument, {
      token: await server.token('ops', 'admin'),
      variables: { input: { userId, amount: 100_000, description: 'seed', idempotencyKey: 's' } },
    });
    const service = await server.token('app', 'service');
    const attempts: Attempt[] = [];
    const readiness: Array<{ at: number; status: number }> = [];
    let running = true;
    let n = 0;

    const worker = async () => {
      while (running) {
        const key = `k-${n++}`;
        const started = Date.now();
        const res = await gql(server.url, DeductCreditsDocument, {
          token: service,
          variables: { input: { userId, amount: 1, description: 'work', idempotencyKey: key } },
        });
        attempts.push({
          key,
          started,
          ms: Date.now() - started,
          status: res.status,
          retryAfter: res.headers['retry-after'],
        });
        if (res.status !== 200) await new Promise((r) => setTimeout(r, 50));
      }
    };
    const probe = async () => {
      while (running) {
        const res = await request(server.url).get('/readyz');
        readiness.push({ at: Date.now(), status: res.status });
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const load = [...Array.from({ length: 8 }, worker), probe()];

    await new Promise((r) => setTimeout(r, 1500));
    const stopAt = Date.now();
    await pg!.stop();
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    const restartAt = Date.now();
    pg = await startDatabaseProcess(path.join(dir, 'pg'), port, 'tally_outage');
    const upAt = Date.now();
    const deadline = upAt + 10_000;
    while (!attempts.some((a) => a.started >= upAt && a.status === 200) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const recoveredAt = attempts.find((a) => a.started >= upAt && a.status === 200)?.started;
    await new Promise((r) => setTimeout(r, 1000));
    running = false;
    await Promise.all(load);

    const during = attempts.filter((a) => a.started >= downAt && a.started + a.ms < restartAt);
    const statuses = [...new Set(attempts.map((a) => a.status))].sort();
    const acknowledged = attempts.filter((a) => a.status === 200).map((a) => a.key);
    process.stdout.write(
      `fault db-outage: stop took ${downAt - stopAt} ms; ${during.length} requests while down, ` +
        `slowest ${Math.max(...during.map((a) => a.ms))} ms; recovered ` +
        `${recoveredAt === undefined ? 'NEVER' : `${recoveredAt - upAt} ms`} after PostgreSQL was back; ` +
        `statuses ${statuses.join(',')}; ${acknowledged.length} acknowledged\n`,
    );

    expect(during.length).toBeGreaterThan(10);
    for (const a of during) {
      expect(a.status).toBe(503);
      expect(a.retryAfter).toBe('5');
      expect(a.ms).toBeLessThan(2500);
    }
    expect(statuses).not.toContain(500);
    expect(readiness.some((r) => r.at > downAt && r.at < restartAt && r.status === 503)).toBe(true);
    expect(readiness.at(-1)!.status).toBe(200);
    expect(recoveredAt).toBeDefined();
    expect(recoveredAt! - upAt).toBeLessThan(10_000);

    // Every acknowledged deduction is in the ledger; balances match their transactions.
    const rows = (await server.server.dataSource.query(
      `SELECT k.key FROM idempotency_keys k WHERE k.user_id = $1 AND k.operation = 'deduct'`,
      [userId],
    )) as Array<{ key: string }>;
    const stored = new Set(rows.map((r) => r.key));
    for (const key of acknowledged) expect(stored).toContain(key);
    const [{ credits, sum }] = (await server.server.dataSource.query(
      `SELECT p.credits, (SELECT sum(amount)::int FROM credit_transactions WHERE user_id = p.id) AS sum
       FROM user_profiles p WHERE p.id = $1`,
      [userId],
    )) as Array<{ credits: number; sum: number }>;
    expect(credits).toBe(sum);
    expect(credits).toBe(100_000 - stored.size);
  }, 120_000);
});
