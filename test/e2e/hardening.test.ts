import { SignJWT } from 'jose';
import request from 'supertest';
import { gql } from '../support/graphql';
import {
  PRODUCTION_TEST_ENV,
  startTestServer,
  TEST_JWT_SECRET,
  type TestServer,
} from '../support/server';

/** A chain of fragments each spreading the next twice: 2^n leaves for a few hundred bytes. */
function doublingChain(n: number): string {
  const fragments = Array.from(
    { length: n },
    (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
  );
  return `query Q { ...F0 } ${fragments.join(' ')} fragment F${n} on Query { __typename }`;
}

const now = () => Math.floor(Date.now() / 1000);
const key = new TextEncoder().encode(TEST_JWT_SECRET);

/** Holes an attacker would try, each closed (issue: hardening). */
describe('hardening', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('an exponential fragment walk from an anonymous caller is refused at once, and /healthz never waits', async () => {
    // Before: n=24 blocked the event loop for 4.9 s (and /healthz with it), doubling per step.
    expect(Buffer.byteLength(doublingChain(30))).toBeLessThan(1400);
    await gql(t.url, doublingChain(3)); // the first request of a process warms its code up
    const health = (async () => {
      const started = performance.now();
      await request(t.url).get('/healthz');
      return performance.now() - started;
    })();
    const times: number[] = [];
    // Each text differs (an alias), as an attacker would vary it past any document cache.
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const res = await gql(t.url, doublingChain(30).replace('__typename', `a${i}: __typename`));
      times.push(performance.now() - started);
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.message).toMatch(/^Query is too expensive/);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    }
    // Milliseconds here (bench:graphql measures them); the old walk took seconds at n=24 and
    // doubled per step, so n=30 would have taken minutes. The bound only tells them apart.
    expect(Math.max(...times)).toBeLessThan(1000);
    expect(await health).toBeLessThan(1000);
  });

  it('introspection: one request holds at most a few __schema/__type fields', async () => {
    // Before: 400 aliases of __schema answered 9.17 MB in 1.33 s to an anonymous caller.
    const aliases = Array.from({ length: 400 }, (_, i) => `s${i}: __schema { types { name } }`);
    const res = await gql(t.url, `{ ${aliases.join(' ')} }`);
    expect(res.status).toBe(400);
    expect(res.errors?.[0]?.message).toBe(
      'Too many introspection fields: 400 exceeds the limit of 3',
    );
    expect(JSON.stringify(res.body).length).toBeLessThan(1000);
    const one = await gql(t.url, '{ __schema { queryType { name } } }');
    expect(one.status).toBe(200);
  });

  it('a 19-digit cursor past bigint is BAD_USER_INPUT, not a 500', async () => {
    const token = await t.token('cursor-user');
    for (const seq of ['9999999999999999999', '9223372036854775808']) {
      const after = Buffer.from(`t|${seq}`).toString('base64url');
      const res = await gql(
        t.url,
        'query ($after: String) { me { creditTransactions(first: 5, after: $after) { edges { cursor } } } }',
        { token, variables: { after } },
      );
      expect({ seq, status: res.status, code: res.errors?.[0]?.extensions?.['code'] }).toEqual({
        seq,
        status: 400,
        code: 'BAD_USER_INPUT',
      });
    }
    const largest = Buffer.from('t|9223372036854775807').toString('base64url');
    const ok = await gql(
      t.url,
      'query ($after: String) { me { creditTransactions(first: 5, after: $after) { edges { cursor } } } }',
      { token, variables: { after: largest } },
    );
    expect(ok.status).toBe(200);
  });

  describe('tokens', () => {
    const sign = (claims: { exp?: number; iat?: number }) => {
      let jwt = new SignJWT({ role: 'user' }).setProtectedHeader({ alg: 'HS256' }).setSubject('t');
      if (claims.exp !== undefined) jwt = jwt.setExpirationTime(claims.exp);
      if (claims.iat !== undefined) jwt = jwt.setIssuedAt(claims.iat);
      return jwt.sign(key);
    };

    it('without exp, beyond the lifetime limit, or issued in the future are refused', async () => {
      const cases: Array<[string, { exp?: number; iat?: number }, string]> = [
        ['no exp', { iat: now() }, 'Token has no valid expiry (exp is required)'],
        ['exp in a year', { exp: now() + 365 * 86_400 }, 'Token lifetime exceeds 86400 seconds'],
        [
          'exp a year after an old iat',
          { iat: now() - 100, exp: now() + 365 * 86_400 },
          'Token lifetime exceeds 86400 seconds',
        ],
        [
          'iat a year ahead',
          { iat: now() + 365 * 86_400, exp: now() + 365 * 86_400 + 60 },
          'Token issued in the future',
        ],
      ];
      for (const [name, claims, message] of cases) {
        const res = await gql(t.url, '{ me { id } }', { token: await sign(claims) });
        expect({ name, status: res.status, message: res.errors?.[0]?.message }).toEqual({
          name,
          status: 401,
          message,
        });
      }
      // Within the limit, and a clock a few seconds ahead: fine.
      const fine = await sign({ iat: now() + 3, exp: now() + 3600 });
      expect((await gql(t.url, '{ me { id } }', { token: fine })).status).toBe(200);
    });
  });

  it('outside production an Origin naming the Host is not same-origin (DNS rebinding)', async () => {
    const port = new URL(t.url).port;
    const rebound = `rebind.attacker.example:${port}`;
    const res = await request(t.url)
      .post('/graphql')
      .set('host', rebound)
      .set('origin', `http://${rebound}`)
      .set('content-type', 'application/json')
      .send({ query: '{ products { id } }' });
    expect(res.status).toBe(403);
    for (const host of ['localhost', '127.0.0.1']) {
      const own = await request(t.url)
        .post('/graphql')
        .set('origin', `http://${host}:${port}`)
        .set('content-type', 'application/json')
        .send({ query: '{ products { id } }' });
      expect(own.status).toBe(200);
    }
  });
});

describe('production defaults', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(PRODUCTION_TEST_ENV);
  });
  afterAll(() => t?.close());

  it('no playground, no introspection, and no /metrics without METRICS_TOKEN', async () => {
    const page = await request(t.url).get('/graphql').set('accept', 'text/html');
    expect(page.type).not.toBe('text/html');
    const introspection = await gql(t.url, '{ __schema { queryType { name } } }');
    expect(introspection.status).toBe(400);
    expect(introspection.errors?.[0]?.message).toBe('Introspection is disabled on this server');
    // __typename is no introspection of the schema: clients' caches rely on it.
    expect((await gql(t.url, '{ __typename products { id } }')).status).toBe(200);
    expect((await request(t.url).get('/metrics')).status).toBe(404);
  });
});

describe('validation work bounded before graphql validates', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t?.close());

  it('many copies of one field are refused at once, over HTTP (anonymous)', async () => {
    // Before: graphql's OverlappingFieldsCanBeMerged compared every pair: 300 copies of
    // `products { id }` (6 KB) blocked the event loop for over a second.
    await gql(t.url, '{ products { id } }');
    for (const body of [
      Array.from({ length: 300 }, () => 'products { id }').join(' '),
      Array.from({ length: 300 }, () => '... on Query { a: products { id } }').join(' '),
    ]) {
      const started = performance.now();
      const res = await gql(t.url, `{ ${body} }`);
      const ms = performance.now() - started;
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.message).toMatch(
        /^Too many fields at .*: 300 exceeds the limit of 25/,
      );
      expect(ms).toBeLessThan(1000);
    }
    // A fragment spread several times is still fine, as are real queries.
    const ok = await gql(
      t.url,
      '{ ...P ...P products { id } } fragment P on Query { products { id name } }',
    );
    expect(ok.status).toBe(200);
  });
});

describe('TRUST_PROXY: one client address for every limit and log line', () => {
  it('is the socket peer by default, and the forwarded address through a trusted proxy', async () => {
    for (const [env, expected] of [
      [{}, '127.0.0.1'],
      [{ TRUST_PROXY: 'loopback' }, '203.0.113.9'],
      [{ TRUST_PROXY: '1' }, '203.0.113.9'],
    ] as const) {
      const t = await startTestServer(env);
      try {
        const res = await request(t.url)
          .post('/api/payment/callback')
          .set('x-forwarded-for', '203.0.113.9')
          .set('content-type', 'application/json')
          .send('{}');
        expect(res.status).toBe(401);
        const line = t.logs.find((l) => l['msg'] === 'webhook refused: bad signature');
        expect({ env, clientAddress: line?.['clientAddress'] }).toEqual({
          env,
          clientAddress: expected,
        });
      } finally {
        await t.close();
      }
    }
  });
});

/** Stands in the body for a value nested 5000 deep, written into the text afterwards. */
const DEEP = '@deep@';

/** Found by the fuzz tests (test/fuzz), each a 500, a double effect or a closed socket before. */
describe('found by fuzzing', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t?.close());

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    request(t.url)
      .post('/graphql')
      .set({ 'content-type': 'application/json', ...headers })
      // Written out by hand: the nested value is deeper than JSON.stringify's stack too.
      .send(JSON.stringify(body).replace(`"${DEEP}"`, '['.repeat(5000) + ']'.repeat(5000)));

  it('a request whose answer the client would not accept is refused before it runs (406)', async () => {
    const admin = await t.token('fuzz-admin', 'admin');
    const mutation = `mutation { adjustCredits(input: { userId: "fuzz-406", amount: 5, description: "x", idempotencyKey: "k-${Date.now()}" }) { balance } }`;
    for (const accept of ['text/html', 'text/event-stream', 'multipart/mixed']) {
      const res = await post({ query: mutation }, { accept, authorization: `Bearer ${admin}` });
      expect({ accept, status: res.status }).toEqual({ accept, status: 406 });
    }
    // Before, each ran: +5 credits per refused request.
    const profile = await gql(t.url, '{ userProfile(id: "fuzz-406") { credits } }', {
      token: admin,
    });
    expect(profile.data).toEqual({ userProfile: null });
  });

  it('documents that broke the server are the client error (400)', async () => {
    const token = await t.token('fuzz-user');
    const cases: Array<[string, unknown]> = [
      ['@skip on a subscription root', { query: 'subscription { __typename @skip(if: true) }' }],
      [
        '@include by variable on a subscription root',
        {
          query: 'subscription ($v: Boolean!) { balanceChanged @include(if: $v) { balance } }',
          variables: { v: true },
        },
      ],
      ['an operationName the document lacks', { query: '{ __typename }', operationName: 'Fuzz' }],
      [
        'a cost variable nested 5000 deep',
        {
          query: 'query ($n: Int) { me { orders(first: $n) { edges { cursor } } } }',
          variables: { n: DEEP },
        },
      ],
    ];
    for (const [name, body] of cases) {
      const res = await post(body, { authorization: `Bearer ${token}` });
      expect({ name, status: res.status, code: res.body.errors?.[0]?.extensions?.code }).toEqual({
        name,
        status: 400,
        code: 'BAD_USER_INPUT',
      });
    }
  });

  it('automatic persisted queries are not offered: a clear code, not INTERNAL_SERVER_ERROR', async () => {
    const res = await post({
      query: '{ __typename }',
      extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } },
    });
    // 200, as APQ clients expect of this answer; before, a 400 with INTERNAL_SERVER_ERROR.
    expect(res.status).toBe(200);
    expect(res.body.errors[0]).toMatchObject({
      message: 'PersistedQueryNotSupported',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('a NUL in a user id is a miss, in a token subject a refusal, never a 500', async () => {
    const admin = await t.token('fuzz-admin', 'admin');
    const res = await gql(t.url, '{ userProfile(id: "a\\u0000b") { id } }', { token: admin });
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ userProfile: null });
    const nul = await t.token('a\u0000b');
    const cancel = await gql(t.url, 'mutation { cancelSubscription { id } }', { token: nul });
    expect(cancel.status).toBe(401);
    expect(cancel.errors?.[0]?.message).toBe('Token subject has control characters');
  });
});
