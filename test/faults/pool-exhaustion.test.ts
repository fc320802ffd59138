import type { QueryRunner } from 'typeorm';
import request from 'supertest';
import { MeDocument } from '../generated/graphql';
import { gql } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/server';

/**
 * Every pool connection is taken (long transactions, a stuck query): requests that need
 * the database fail within the configured wait with 503 and Retry-After, /healthz stays
 * fast, and the service serves again as soon as connections come back.
 */
describe('fault: connection pool exhausted', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      DATABASE_POOL_SIZE: '4',
      DATABASE_POOL_WAIT_MS: '500',
      JOBS_ENABLED: 'false',
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('fails requests within the pool wait, keeps /healthz fast, recovers at once', async () => {
    const token = await t.token('pool-user');
    expect((await gql(t.url, MeDocument, { token })).status).toBe(200);

    const held: QueryRunner[] = [];
    for (let i = 0; i < 4; i++) {
      const runner = t.server.dataSource.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      held.push(runner);
    }
    try {
      const timings = await Promise.all(
        Array.from({ length: 6 }, async () => {
          const started = Date.now();
          const res = await gql(t.url, MeDocument, { token });
          return {
            status: res.status,
            ms: Date.now() - started,
            retry: res.headers['retry-after'],
          };
        }),
      );
      const health: number[] = [];
      for (let i = 0; i < 10; i++) {
        const started = Date.now();
        expect((await request(t.url).get('/healthz')).status).toBe(200);
        health.push(Date.now() - started);
      }
      const ready = await request(t.url).get('/readyz');
      process.stdout.write(
        `fault pool: ${timings.length} requests with the pool held: ${timings
          .map((x) => `${x.status} in ${x.ms} ms`)
          .join(', ')}; /healthz max ${Math.max(...health)} ms; /readyz ${ready.status}\n`,
      );
      for (const x of timings) {
        expect(x.status).toBe(503);
        expect(x.retry).toBe('5');
        expect(x.ms).toBeLessThan(1500);
      }
      expect(Math.max(...health)).toBeLessThan(100);
      expect(ready.status).toBe(503);
    } finally {
      for (const runner of held) {
        await runner.rollbackTransaction();
        await runner.release();
      }
    }
    expect((await gql(t.url, MeDocument, { token })).status).toBe(200);
    expect((await request(t.url).get('/readyz')).status).toBe(200);
  });
});
