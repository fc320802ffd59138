import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { Ledger, ProfileService } from '../../src/ledger';
import { createTestDatabase, openTestDataSource, type TestDatabase } from '../support/database';

const ROOT = path.join(__dirname, '..', '..');

/** `npm run drift-check` as an operator runs it, against a real database. */
describe('npm run drift-check', () => {
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

  function driftCheck(): { status: number | null; stdout: string } {
    const result = spawnSync('npm', ['run', '-s', 'drift-check'], {
      cwd: ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '/tmp',
        DATABASE_URL: db.url,
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: result.status, stdout: result.stdout };
  }

  it('exits 0 when balances match, and 1 naming the users when they drift', async () => {
    await new ProfileService(ds).getOrCreateProfile('carol');
    await new Ledger(ds).grant({
      userId: 'carol',
      type: 'ADJUSTMENT',
      amount: 40,
      description: 'seed',
    });
    const clean = driftCheck();
    expect(clean.status).toBe(0);
    expect(clean.stdout).toMatch(/every balance equals the sum of its transactions/);

    await ds.query(`UPDATE user_profiles SET credits = 45 WHERE id = 'carol'`);
    try {
      const drifted = driftCheck();
      expect(drifted.status).toBe(1);
      expect(drifted.stdout).toContain('carol: balance 45, transactions sum 40, drift 5');
    } finally {
      await ds.query(`UPDATE user_profiles SET credits = 40 WHERE id = 'carol'`);
    }
  });
});
