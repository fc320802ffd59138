import { Writable } from 'node:stream';
import pino from 'pino';
import { signToken, type Role } from '../../src/auth';
import { loadConfig, DEV_JWT_SECRET, type AppConfig } from '../../src/config';
import { startTally, type TallyServer } from '../../src/server';
import { createTestDatabase, type TestDatabase } from './database';

export interface TestServer {
  server: TallyServer;
  url: string;
  config: AppConfig;
  db: TestDatabase;
  /** Every log line the server wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  token(subject: string, role?: Role, options?: { expiresIn?: string | number }): Promise<string>;
  close(): Promise<void>;
}

export const TEST_JWT_SECRET = 'test-secret-for-tally-tests-0123456789abcdef';

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
    ...env,
  });
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const server = await startTally({ config, logger });
  const secret = config.jwt.secret ?? DEV_JWT_SECRET;
  return {
    server,
    url: server.url,
    config,
    db,
    logs,
    token: (subject, role = 'user', options = {}) =>
      signToken({ secret, subject, role, expiresIn: options.expiresIn ?? '10m' }),
    async close() {
      await server.close();
      await db.drop();
    },
  };
}
