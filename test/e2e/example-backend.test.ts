import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import request from 'supertest';
import { createExampleApp } from '../../examples/spa/server/app';
import { Ledger } from '../../src/ledger';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server';

/**
 * The example app's backend (examples/spa/server/backend.ts) against a real Tally: the
 * deduct / work / refund loop as a client writes it, under retries and a refund Tally
 * cannot take at first.
 */
describe('the example app backend', () => {
  let t: TestServer;
  let app: Server;
  let url: string;

  beforeAll(async () => {
    t = await startTestServer();
    const example = createExampleApp({
      tallyUrl: () => t.url,
      jwtSecret: TEST_JWT_SECRET,
      cost: 10,
      refundRetryMs: 200,
    });
    app = await new Promise<Server>((resolve) => {
      const server = example.listen(0, '127.0.0.1', () => resolve(server));
    });
    url = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    expect(await new Ledger(t.server.dataSource).drift()).toEqual([]);
  });
  afterAll(async () => {
    await new Promise((resolve) => app?.close(resolve));
    await t?.close();
  });

  /** A user with 100 credits, and their token. */
  async function user(name: string): Promise<string> {
    const token = await t.token(name);
    // Reading `me` creates the user's account in Tally, as the SPA's first page does.
    await request(t.url)
      .post('/graphql')
      .set('authorization', `Bearer ${token}`)
      .send({ query: '{ me { id } }' })
      .expect(200);
    const admin = await t.token('ops', 'admin');
    await request(t.url)
      .post('/graphql')
      .set('authorization', `Bearer ${admin}`)
      .send({
        query: `mutation { adjustCredits(input: { userId: "${name}", amount: 100, description: "Start", idempotencyKey: "start-${name}" }) { balance } }`,
      })
      .expect(200);
    return token;
  }
  const work = (token: string, key: string, fail = false) =>
    request(url)
      .post('/api/premium-work')
      .set('authorization', `Bearer ${token}`)
      .set('idempotency-key', key)
      .send({ fail });
  const movements = async (userId: string) =>
    (await t.server.dataSource.query(
      `SELECT type, amount FROM credit_transactions WHERE user_id = $1 ORDER BY seq`,
      [userId],
    )) as Array<{ type: string; amount: number }>;

  it('charges once and works once however often a request is retried', async () => {
    const token = await user('retrier');
    const answers = await Promise.all([1, 2, 3].map(() => work(token, 'render-0001')));
    // One ran; the others were told it was running, or given its answer.
    expect(answers.filter((a) => a.status === 200)).not.toHaveLength(0);
    expect(answers.every((a) => a.status === 200 || a.status === 409)).toBe(true);
    const again = await work(token, 'render-0001');
    expect(again.status).toBe(200);
    const first = answers.find((a) => a.status === 200)!;
    expect(again.body.result).toBe(first.body.result);
    expect(await movements('retrier')).toEqual([
      { type: 'ADJUSTMENT', amount: 100 },
      { type: 'CONSUMPTION', amount: -10 },
    ]);
  });

  it('refunds failed work once; a retry of it neither works nor keeps the refund', async () => {
    const token = await user('failer');
    const failed = await work(token, 'render-0002', true);
    expect(failed.status).toBe(502);
    expect(failed.body.error).toEqual({
      code: 'WORK_FAILED',
      message: 'The work failed. Your 10 credits were refunded.',
    });
    // The same request again, now asking for work that succeeds: the first answer stands.
    const retried = await work(token, 'render-0002', false);
    expect(retried.status).toBe(502);
    expect(await movements('failer')).toEqual([
      { type: 'ADJUSTMENT', amount: 100 },
      { type: 'CONSUMPTION', amount: -10 },
      { type: 'REFUND', amount: 10 },
    ]);
  });

  it('a refund Tally refuses at first is retried until it lands, once', async () => {
    const token = await user('unlucky');
    const db = new Client({ connectionString: t.db.url });
    await db.connect();
    try {
      // Tally cannot record refunds for a moment.
      await db.query(`CREATE FUNCTION example_no_refunds() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN IF NEW.type = 'REFUND' THEN RAISE EXCEPTION 'refunds are down'; END IF;
        RETURN NEW; END $$`);
      await db.query(`CREATE TRIGGER example_no_refunds BEFORE INSERT ON credit_transactions
        FOR EACH ROW EXECUTE FUNCTION example_no_refunds()`);
      const failed = await work(token, 'render-0003', true);
      expect(failed.status).toBe(502);
      expect(failed.body.error.message).toBe(
        'The work failed. Your 10 credits will be refunded shortly.',
      );
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect((await movements('unlucky')).map((m) => m.type)).toEqual([
        'ADJUSTMENT',
        'CONSUMPTION',
      ]);
    } finally {
      await db.query('DROP TRIGGER IF EXISTS example_no_refunds ON credit_transactions');
      await db.query('DROP FUNCTION IF EXISTS example_no_refunds()');
      await db.end();
    }
    // Back up: the background retry applies it, and only once.
    const deadline = Date.now() + 5000;
    while ((await movements('unlucky')).length < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await movements('unlucky')).toEqual([
      { type: 'ADJUSTMENT', amount: 100 },
      { type: 'CONSUMPTION', amount: -10 },
      { type: 'REFUND', amount: 10 },
    ]);
  });

  it('not enough credits: nothing taken, and the same request may go through later', async () => {
    const token = await t.token('broke');
    const refused = await work(token, 'render-0004');
    expect(refused.status).toBe(402);
    expect(refused.body.error.code).toBe('INSUFFICIENT_CREDITS');
    await user('broke');
    const later = await work(token, 'render-0004');
    expect(later.status).toBe(200);
    expect((await movements('broke')).map((m) => m.type)).toEqual(['ADJUSTMENT', 'CONSUMPTION']);
  });

  it('wants a signed-in user and a usable key', async () => {
    const token = await user('careful');
    expect((await work(token, 'short')).status).toBe(400);
    expect((await work(token, 'has:colon-01')).status).toBe(400);
    const service = await t.token('someone', 'service');
    expect((await work(service, 'render-0005')).status).toBe(401);
    expect((await work('not-a-token', 'render-0006')).status).toBe(401);
    expect(await movements('careful')).toHaveLength(1);
  });
});
