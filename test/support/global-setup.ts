import 'reflect-metadata';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createDataSource, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db';
import { silentLogger } from '../../src/observability';
import { withDatabase } from './database';

declare global {
  var __TALLY_EMBEDDED__: EmbeddedPostgres | undefined;
}

/**
 * Once per test run: a PostgreSQL server (TEST_DATABASE_URL / DATABASE_URL, else an embedded
 * one in a fresh temp folder), and a template database with every migration applied. Each
 * test file then clones the template into a database of its own (test/support/database.ts).
 */
export default async function globalSetup(): Promise<void> {
  let adminUrl = process.env['TEST_DATABASE_URL'] || process.env['DATABASE_URL'];
  if (!adminUrl) {
    const dir = mkdtempSync(path.join(tmpdir(), 'tally-test-pg-'));
    chmodSync(dir, 0o755);
    const embedded = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'data'),
      database: 'postgres',
      logger: silentLogger,
    });
    globalThis.__TALLY_EMBEDDED__ = embedded;
    adminUrl = embedded.url;
  }
  const template = `tally_template_${process.pid}_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${template}"`);
  } finally {
    await admin.end();
  }
  const dataSource = createDataSource({ url: withDatabase(adminUrl, template), poolSize: 1 });
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await dataSource.destroy();

  // Tests of shared (Redis) state run when a Redis answers; the README's test command
  // needs none.
  const redisUrl = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(redisUrl)) process.env['TALLY_TEST_REDIS_URL'] = redisUrl;

  process.env['TALLY_TEST_ADMIN_URL'] = adminUrl;
  process.env['TALLY_TEST_TEMPLATE'] = template;
}

async function redisAnswers(url: string): Promise<boolean> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
