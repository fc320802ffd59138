import { getIntrospectionQuery } from 'graphql';
import request from 'supertest';
import { SignJWT } from 'jose';
import {
  MeDocument,
  MyHistoryDocument,
  ProductsDocument,
  UserProfileDocument,
} from '../generated/graphql';
import { gql } from '../support/graphql';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server';

describe('GraphQL API over HTTP', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('products', () => {
    it('lists the catalog without a token', async () => {
      const res = await gql(t.url, ProductsDocument);
      expect(res.status).toBe(200);
      expect(res.errors).toBeUndefined();
      expect(res.data?.products).toEqual([
        {
          id: 'credits-100',
          name: '100 credits',
          kind: 'CREDIT_PACK',
          price: 500,
          currency: 'USD',
          credits: 100,
          interval: null,
        },
        {
          id: 'credits-1000',
          name: '1,000 credits',
          kind: 'CREDIT_PACK',
          price: 4000,
          currency: 'USD',
          credits: 1000,
          interval: null,
        },
        expect.objectContaining({
          id: 'plan-monthly',
          kind: 'SUBSCRIPTION',
          credits: 500,
          interval: 'MONTH',
          currency: 'USD',
        }),
      ]);
    });

    it('is also served over GET (queries only)', async () => {
      const res = await request(t.url)
        .get('/graphql')
        .query({ query: '{ products { id } }' })
        .set('accept', 'application/json')
        .set('apollo-require-preflight', 'true');
      expect(res.status).toBe(200);
      expect(res.body.data.products).toHaveLength(3);
    });
  });

  describe('me', () => {
    it('is UNAUTHENTICATED with 401 without a token', async () => {
      const res = await gql(t.url, MeDocument);
      expect(res.status).toBe(401);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    });

    it('creates the profile on first use, once, with a zero balance', async () => {
      const token = await t.token('user-me-1');
      const [a, b] = await Promise.all([
        gql(t.url, MeDocument, { token }),
        gql(t.url, MeDocument, { token }),
      ]);
      expect(a.status).toBe(200);
      expect(a.data?.me).toEqual({ id: 'user-me-1', credits: 0, plan: 'free', subscription: null });
      expect(b.data?.me.id).toBe('user-me-1');
      const rows = await t.server.dataSource.query(
        `SELECT count(*)::int AS n FROM user_profiles WHERE id = $1`,
        ['user-me-1'],
      );
      expect(rows[0].n).toBe(1);
    });

    it('returns empty history pages for a new user', async () => {
      const token = await t.token('user-history');
      const res = await gql(t.url, MyHistoryDocument, { token, variables: { first: 5 } });
      expect(res.errors).toBeUndefined();
      expect(res.data?.me.creditTransactions).toEqual({
        edges: [],
        pageInfo: { hasNextPage: false, endCursor: null },
      });
      expect(res.data?.me.orders.edges).toEqual([]);
    });

    it('refuses a page size above 100 and a forged cursor with BAD_USER_INPUT', async () => {
      const token = await t.token('user-history');
      const big = await gql(t.url, MyHistoryDocument, { token, variables: { first: 101 } });
      expect(big.status).toBe(400);
      expect(big.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      const forged = await gql(t.url, MyHistoryDocument, {
        token,
        variables: { first: 5, after: 'not-a-cursor!' },
      });
      expect(forged.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    });
  });

  describe('authentication', () => {
    it('rejects a token with a bad signature, an expired token and a bad role with 401', async () => {
      const key = new TextEncoder().encode(TEST_JWT_SECRET);
      const forged = await new SignJWT({ role: 'admin' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('mallory')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('another-secret-another-secret-another-secret'));
      const expired = await new SignJWT({ role: 'user' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('late')
        .setIssuedAt(Math.floor(Date.now() / 1000) - 7200)
        .setExpirationTime(Math.floor(Date.now() / 1000) - 3600)
        .sign(key);
      const badRole = await new SignJWT({ role: 'root' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('x')
        .setExpirationTime('5m')
        .sign(key);
      for (const [token, message] of [
        [forged, 'Invalid token'],
        [expired, 'Token expired'],
        [badRole, 'Token role must be user, service or admin'],
      ] as const) {
        const res = await gql(t.url, ProductsDocument, { token });
        expect(res.status).toBe(401);
        expect(res.errors?.[0]).toMatchObject({ message, extensions: { code: 'UNAUTHENTICATED' } });
      }
    });

    it('refuses an unsigned (alg: none) token', async () => {
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      const payload = Buffer.from(
        JSON.stringify({ sub: 'mallory', role: 'admin', exp: Math.floor(Date.now() / 1000) + 60 }),
      ).toString('base64url');
      const res = await gql(t.url, MeDocument, { token: `${header}.${payload}.` });
      expect(res.status).toBe(401);
    });

    it('rejects a malformed Authorization header with 401', async () => {
      const res = await gql(t.url, ProductsDocument, { headers: { authorization: 'Basic abc' } });
      expect(res.status).toBe(401);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    });
  });

  describe('userProfile', () => {
    it('is FORBIDDEN with 403 for a user token, even for their own id', async () => {
      const token = await t.token('user-me-1');
      const res = await gql(t.url, UserProfileDocument, { token, variables: { id: 'user-me-1' } });
      expect(res.status).toBe(403);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      expect(res.data?.userProfile ?? null).toBeNull();
    });

    it('returns any profile to service and admin tokens, and null for an unknown id', async () => {
      await gql(t.url, MeDocument, { token: await t.token('user-seen') });
      for (const role of ['service', 'admin'] as const) {
        const token = await t.token(`backend-${role}`, role);
        const found = await gql(t.url, UserProfileDocument, {
          token,
          variables: { id: 'user-seen' },
        });
        expect(found.status).toBe(200);
        expect(found.data?.userProfile).toEqual({ id: 'user-seen', credits: 0, plan: 'free' });
        const missing = await gql(t.url, UserProfileDocument, {
          token,
          variables: { id: 'nobody' },
        });
        expect(missing.data?.userProfile).toBeNull();
        expect(missing.errors).toBeUndefined();
      }
    });
  });

  describe('limits', () => {
    it('refuses a query deeper than the limit with BAD_USER_INPUT / 400', async () => {
      // Depth 6 (me > orders > edges > node > product > id), and counted through fragments.
      const deep = `
        query Deep { me { orders { edges { node { product { id } } } } ...F } }
        fragment F on UserProfile { creditTransactions { edges { node { ... on CreditTransaction { id } } } } }
      `;
      const ok = await gql(t.url, deep, { token: await t.token('depth') });
      expect(ok.status).toBe(200);
      // The schema has no recursion deep enough to pass 12, so a server with a limit of 4 checks it.
      const limited = await startTestServer({ GRAPHQL_MAX_DEPTH: '4' });
      try {
        const res = await gql(limited.url, deep, { token: await limited.token('depth') });
        expect(res.status).toBe(400);
        expect(res.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
        expect(res.errors?.[0]?.message).toMatch(
          /Query is too deep: depth \d+ exceeds the limit of 4/,
        );
      } finally {
        await limited.close();
      }
    });

    it("lets the playground's full introspection query through", async () => {
      const query = getIntrospectionQuery({
        descriptions: true,
        specifiedByUrl: true,
        directiveIsRepeatable: true,
        schemaDescription: true,
        inputValueDeprecation: true,
      });
      const res = await gql(t.url, query);
      expect(res.status).toBe(200);
      expect(res.errors).toBeUndefined();
      expect(
        (res.data as { __schema: { types: unknown[] } }).__schema.types.length,
      ).toBeGreaterThan(10);
    });

    it('refuses introspection nested deeper than any real client needs', async () => {
      const ofTypes = (n: number): string =>
        n === 0 ? 'name' : `name ofType { ${ofTypes(n - 1)} }`;
      const res = await gql(t.url, `{ __schema { types { fields { type { ${ofTypes(20)} } } } } }`);
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.message).toMatch(/Introspection is too deep/);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    });

    it('refuses a query whose cost exceeds the limit', async () => {
      const aliases = Array.from(
        { length: 30 },
        (_, i) => `h${i}: creditTransactions(first: 100) { edges { node { id amount } } }`,
      ).join('\n');
      const res = await gql(t.url, `{ me { ${aliases} } }`, { token: await t.token('cost') });
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.message).toMatch(/Query is too expensive/);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    });

    it('refuses malformed JSON and oversized bodies with a clear error', async () => {
      const malformed = await request(t.url)
        .post('/graphql')
        .set('content-type', 'application/json')
        .send('{"query": ');
      expect(malformed.status).toBe(400);
      expect(malformed.body.errors[0]).toEqual({
        message: 'Malformed JSON body',
        extensions: { code: 'BAD_USER_INPUT' },
      });
      const huge = await request(t.url)
        .post('/graphql')
        .set('content-type', 'application/json')
        .send(JSON.stringify({ query: `{ products { id } } # ${'x'.repeat(200_000)}` }));
      expect(huge.status).toBe(413);
      expect(huge.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    });

    it('reports a syntax error as BAD_USER_INPUT', async () => {
      const res = await gql(t.url, '{ products { id ');
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    });
  });

  describe('CSRF prevention', () => {
    it('refuses a simple cross-site GET without a preflight header', async () => {
      const res = await request(t.url)
        .get('/graphql')
        .query({ query: '{ products { id } }' })
        .set('accept', 'application/json');
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toMatch(/CSRF|preflight/i);
    });

    it('refuses a form-encoded POST', async () => {
      const res = await request(t.url)
        .post('/graphql')
        .set('content-type', 'text/plain')
        .send(JSON.stringify({ query: '{ products { id } }' }));
      expect(res.status).toBe(400);
    });
  });

  describe('health', () => {
    it('answers /healthz and /readyz', async () => {
      expect((await request(t.url).get('/healthz')).body).toEqual({ status: 'ok' });
      const ready = await request(t.url).get('/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ status: 'ready' });
    });

    it('serves Prometheus metrics', async () => {
      const res = await request(t.url).get('/metrics');
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/tally_http_requests_total/);
    });
  });
});
