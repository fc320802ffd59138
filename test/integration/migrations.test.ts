import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { MIGRATIONS } from '../../migrations';
import { openDatabase } from '../../src/db';
import { silentLogger } from '../../src/observability';
import { withDatabase } from '../support/database';

/** Migrations on an empty database: applied at start by default, skipped when switched off. */
describe('migrations', () => {
  const adminUrl = process.env['TALLY_TEST_ADMIN_URL']!;
  const name = `tally_m_${randomBytes(5).toString('hex')}`;
  const url = withDatabase(adminUrl, name);

  async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }

  beforeAll(() => admin((c) => c.query(`CREATE DATABASE "${name}"`)));
  afterAll(() => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)));

  async function tables(): Promise<string[]> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const res = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
      );
      return res.rows.map((r) => r.table_name);
    } finally {
      await client.end();
    }
  }

  it('leaves the database alone with RUN_MIGRATIONS=false', async () => {
    const db = await openDatabase(
      { databaseUrl: url, embeddedDataDir: undefined, runMigrations: false },
      silentLogger,
    );
    await db.close();
    expect(await tables()).toEqual([]);
  });

  it('applies every migration at start, then has none pending', async () => {
    const db = await openDatabase(
      { databaseUrl: url, embeddedDataDir: undefined, runMigrations: true },
      silentLogger,
    );
    try {
      expect(await db.dataSource.showMigrations()).toBe(false);
    } finally {
      await db.close();
    }
    expect(await tables()).toEqual([
      'credit_reservations',
      'credit_transactions',
      'idempotency_keys',
      'mock_payments',
      'mock_renewals',
      'mock_webhook_deliveries',
      'orders',
      'provider_refunds',
      'subscription_payments',
      'subscriptions',
      'typeorm_migrations',
      'user_profiles',
      'webhook_events',
    ]);
    // A second start finds nothing to do.
    const again = await openDatabase(
      { databaseUrl: url, embeddedDataDir: undefined, runMigrations: true },
      silentLogger,
    );
    await again.close();
  });

  it('lets instances starting together on an empty database apply each migration once', async () => {
    const fresh = `${name}_together`;
    const freshUrl = withDatabase(adminUrl, fresh);
    await admin((c) => c.query(`CREATE DATABASE "${fresh}"`));
    try {
      // One of them with a pool of one connection: the lock's connection runs the migrations.
      const starts = await Promise.allSettled(
        [1, 2, 3].map((n) =>
          openDatabase(
            {
              databaseUrl: freshUrl,
              embeddedDataDir: undefined,
              runMigrations: true,
              databasePoolSize: n === 1 ? 1 : 4,
              databasePoolWaitMs: 2000,
            },
            silentLogger,
          ),
        ),
      );
      const opened = starts.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      await Promise.all(opened.map((db) => db.close()));
      expect(starts.map((s) => (s.status === 'rejected' ? String(s.reason) : 'ok'))).toEqual([
        'ok',
        'ok',
        'ok',
      ]);
      const client = new Client({ connectionString: freshUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string; n: number }>(
          'SELECT name, count(*)::int AS n FROM typeorm_migrations GROUP BY name HAVING count(*) > 1',
        );
        expect(rows).toEqual([]);
        const total = await client.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM typeorm_migrations',
        );
        expect(total.rows[0]!.n).toBe(MIGRATIONS.length);
      } finally {
        await client.end();
      }
    } finally {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${fresh}" WITH (FORCE)`));
    }
  });
});
