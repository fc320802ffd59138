import { MeDocument } from '../generated/graphql';
import { gql } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/server';

describe('unexpected errors', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('masks a real database failure as INTERNAL_SERVER_ERROR / 500, and logs it in full', async () => {
    // Break the schema under the running server: the resolver's query then fails in PostgreSQL.
    await t.server.dataSource.query('ALTER TABLE user_profiles RENAME TO user_profiles_gone');
    try {
      const res = await gql(t.url, MeDocument, { token: await t.token('masked') });
      expect(res.status).toBe(500);
      expect(res.errors).toHaveLength(1);
      expect(res.errors?.[0]).toEqual({
        message: 'Internal server error',
        locations: expect.any(Array),
        path: ['me'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      });
      const raw = JSON.stringify(res.body);
      expect(raw).not.toMatch(/user_profiles|relation|stack|QueryFailedError|at /);

      const logged = t.logs.find((line) => line['msg'] === 'unexpected error in a resolver');
      expect(logged).toBeDefined();
      const err = logged?.['err'] as { message: string; stack: string };
      expect(err.message).toMatch(/relation "user_profiles" does not exist/);
      expect(err.stack).toMatch(/QueryFailedError/);
    } finally {
      await t.server.dataSource.query('ALTER TABLE user_profiles_gone RENAME TO user_profiles');
    }
  });

  it('reports the database unreachable on /readyz while /healthz stays up', async () => {
    const other = await startTestServer();
    try {
      await other.server.dataSource.destroy();
      const { default: request } = await import('supertest');
      const ready = await request(other.url).get('/readyz');
      expect(ready.status).toBe(503);
      expect((await request(other.url).get('/healthz')).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});
