import { spawnSync } from 'node:child_process';
import type { DataSource } from 'typeorm';
import { createCheckout } from '../../src/billing';
import { Ledger, ProfileService } from '../../src/ledger';
import { silentLogger } from '../../src/observability';
import { MockProvider } from '../../src/providers';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';
import { ROOT } from '../support/process';
import { billingDeps } from '../support/billing';

/** `npm run reconcile` as an operator (or cron) runs it, against a real database. */
describe('npm run reconcile', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openTestDataSource(db.url, 2);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  function reconcile(): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(
      'npm',
      ['run', '-s', 'reconcile', '--', '--older-than-minutes', '10'],
      {
        cwd: ROOT,
        env: {
          PATH: process.env['PATH'] ?? '',
          HOME: process.env['HOME'] ?? '/tmp',
          DATABASE_URL: db.url,
        },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('completes a paid order whose webhook was lost, once, and leaves an open one pending', async () => {
    const provider = new MockProvider({
      dataSource: ds,
      webhookSecret: 'unused-here-0123456789abcdef',
      publicUrl: () => 'http://tally.test',
      webhookUrl: () => 'http://127.0.0.1:9/unreachable',
      logger: silentLogger,
    });
    const profiles = new ProfileService(ds);
    const deps = billingDeps({ dataSource: ds, provider });
    const paid = await createCheckout(deps, { userId: 'dora', productId: 'credits-100' });
    const open = await createCheckout(deps, { userId: 'dora', productId: 'credits-1000' });
    const recent = await createCheckout(deps, { userId: 'dora', productId: 'credits-100' });
    await provider.fake.dashboard.pay(paid.order.checkoutId!, { sendWebhook: false });
    await ds.query(
      `UPDATE orders SET created_at = now() - interval '20 minutes' WHERE id = ANY($1)`,
      [[paid.order.id, open.order.id]],
    );

    const first = reconcile();
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toBe(
      'reconcile: 2 order(s) pending for over 10 min: 1 completed, 1 pending\n',
    );
    const statuses = await ds.query(`SELECT id, status FROM orders WHERE user_id = 'dora'`);
    expect(
      Object.fromEntries(statuses.map((r: { id: string; status: string }) => [r.id, r.status])),
    ).toEqual({
      [paid.order.id]: 'COMPLETED',
      [open.order.id]: 'PENDING',
      [recent.order.id]: 'PENDING',
    });
    expect((await profiles.findProfile('dora'))!.credits).toBe(100);

    const second = reconcile();
    expect(second.stdout).toBe('reconcile: 1 order(s) pending for over 10 min: 1 pending\n');
    expect((await profiles.findProfile('dora'))!.credits).toBe(100);
    expect(await new Ledger(ds).drift()).toEqual([]);
  });
});
