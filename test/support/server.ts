import { Writable } from 'node:stream';
import { signToken, type Role } from '../../src/auth';
import { configSecrets, loadConfig, DEV_JWT_SECRET, type AppConfig } from '../../src/config';
import { createLogger } from '../../src/observability';
import { startTally, type TallyServer } from '../../src/server';
import { createTestDatabase, type TestDatabase } from './database';

export interface TestServer {
  server: TallyServer;
  url: string;
  config: AppConfig;
  db: TestDatabase;
  /** Every log line the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** The same lines as written. */
  rawLogs: string[];
  token(subject: string, role?: Role, options?: { expiresIn?: string | number }): Promise<string>;
  close(): Promise<void>;
}

export const TEST_JWT_SECRET = 'test-secret-for-tally-tests-0123456789abcdef';

/**
 * A production configuration whose Paddle is never called: for what production refuses. On
 * Paddle's sandbox, as a staging deployment is (PAYMENT_ENV_TEST_IN_PRODUCTION).
 */
export const PRODUCTION_TEST_ENV: Readonly<Record<string, string>> = {
  NODE_ENV: 'production',
  PUBLIC_URL: 'http://127.0.0.1:0',
  PAYMENT_PROVIDER: 'paddle',
  PAYMENT_ENV: 'test',
  PAYMENT_ENV_TEST_IN_PRODUCTION: 'true',
  PADDLE_TEST_API_KEY: 'pdl_test_not_called_in_this_test',
  PADDLE_TEST_WEBHOOK_SECRET: 'pdl_ntfset_not_used',
  PADDLE_TEST_PRICE_CREDITS_100: 'pri_01credits100',
  PADDLE_TEST_PRICE_CREDITS_1000: 'pri_01credits1000',
  PADDLE_TEST_PRICE_PLAN_MONTHLY: 'pri_01planmonthly',
};

/** A real Tally server on a free port, over this test file's own database. */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const db = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: db.url,
    JWT_SECRET: TEST_JWT_SECRET,
    // Every test request comes from 127.0.0.1: only the rate-limit tests want the real limit.
    RATE_LIMIT_CALLBACK_PER_MINUTE: '1000000',
    RATE_LIMIT_CHECKOUT_PER_MINUTE: '100000',
    // Scheduled jobs (pg-boss) only where a test asks for them.
    JOBS_ENABLED: 'false',
    ...env,
  });
  const logs: Array<Record<string, unknown>> = [];
  const rawLogs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        rawLogs.push(line);
        // Scrubbing works on the finished line: each must still be valid JSON.
        logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  // The service's own logger (scrubbing included), at debug level, into `logs`.
  const logger = createLogger('debug', { destination: sink, secrets: configSecrets(config) });
  const server = await startTally({ config, logger });
  const secret = config.jwt.secret ?? DEV_JWT_SECRET;
  return {
    server,
    url: server.url,
    config,
    db,
    logs,
    rawLogs,
    token: (subject, role = 'user', options = {}) =>
      signToken({ secret, subject, role, expiresIn: options.expiresIn ?? '10m' }),
    async close() {
      await server.close();
      await db.drop();
    },
  };
}
