import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../src/db';

export interface TestDatabase {
  url: string;
  name: string;
  /** Drops the database; call in afterAll. */
  drop(): Promise<void>;
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is unset: is jest's globalSetup configured?`);
  return value;
}

/** The same server URL, naming another database. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/**
 * A database of this test file's own, cloned from the migrated template: files never see
 * each other's rows, and nothing needs truncating (credit_transactions refuses TRUNCATE).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = env('TALLY_TEST_ADMIN_URL');
  const template = env('TALLY_TEST_TEMPLATE');
  const runId = template.split('_')[2];
  const name = `tally_t_${runId}_${randomBytes(5).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // Two files cloning at the same instant can see "template is being accessed": retry.
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
        break;
      } catch (error) {
        if (attempt >= 20 || !/being accessed/.test(String(error))) throw error;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(adminUrl, name),
    name,
    async drop() {
      const client = new Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export async function openTestDataSource(url: string, poolSize = 10): Promise<DataSource> {
  const dataSource = createDataSource({ url, poolSize, applicationName: 'tally-test' });
  await dataSource.initialize();
  return dataSource;
}
