import request from 'supertest';
import WebSocket from 'ws';
import { PRODUCTION_TEST_ENV, startTestServer, type TestServer } from '../support/server';

const APP = 'http://app.example.test:5173';
const EVIL = 'https://evil.example';

/** Opens a raw WebSocket upgrade with an Origin header; resolves with the HTTP outcome. */
function upgrade(t: TestServer, origin: string): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${t.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws', {
      headers: { origin },
    });
    socket.once('open', () => {
      socket.close();
      resolve('open');
    });
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('error', reject);
  });
}

describe('CORS and the development token route', () => {
  let t: TestServer;
  beforeAll(async () => {
    // The tests' JWT secret is not the public development one: the route must be asked for.
    t = await startTestServer({ CORS_ORIGINS: APP, DEV_TOKENS: 'true' });
  });
  afterAll(() => t?.close());

  it('answers a preflight from an allowed origin with what a browser needs', async () => {
    const res = await request(t.url)
      .options('/graphql')
      .set('origin', APP)
      .set('access-control-request-method', 'POST')
      .set('access-control-request-headers', 'authorization, content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-allow-headers']).toMatch(/authorization/);
    expect(res.headers['access-control-allow-headers']).toMatch(/content-type/);
    expect(res.headers['vary']).toMatch(/Origin/);
  });

  it('lets an allowed origin run a query and read the answer', async () => {
    const res = await request(t.url)
      .post('/graphql')
      .set('origin', APP)
      .set('content-type', 'application/json')
      .send({ query: '{ products { id } }' });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.body.data.products.length).toBeGreaterThan(0);
  });

  it('refuses a preflight and a request from an origin not on the list', async () => {
    const preflight = await request(t.url)
      .options('/graphql')
      .set('origin', EVIL)
      .set('access-control-request-method', 'POST');
    expect(preflight.status).toBe(403);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();

    // A mutation must not run just because the browser would hide its answer.
    const token = await t.token('cors-victim');
    const res = await request(t.url)
      .post('/graphql')
      .set('origin', EVIL)
      .set('authorization', `Bearer ${token}`)
      .set('content-type', 'application/json')
      .send({
        query: 'mutation { createCheckout(input: { productId: "credits-100" }) { checkoutUrl } }',
      });
    expect(res.status).toBe(403);
    expect(res.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const orders = await t.server.dataSource.query('SELECT count(*)::int AS n FROM orders');
    expect(orders[0].n).toBe(0);
  });

  it('still serves same-origin pages and servers that send no Origin', async () => {
    const own = await request(t.url)
      .post('/graphql')
      .set('origin', t.url)
      .set('content-type', 'application/json')
      .send({ query: '{ products { id } }' });
    expect(own.status).toBe(200);
    const server = await request(t.url)
      .post('/graphql')
      .set('content-type', 'application/json')
      .send({ query: '{ products { id } }' });
    expect(server.status).toBe(200);
  });

  it('outside production, a page at the Host the request names is same-origin', async () => {
    // localhost and 127.0.0.1 alike, in development; production trusts PUBLIC_URL only.
    const port = new URL(t.url).port;
    const res = await request(t.url)
      .post('/graphql')
      .set('host', `localhost:${port}`)
      .set('origin', `http://localhost:${port}`)
      .set('content-type', 'application/json')
      .send({ query: '{ products { id } }' });
    expect(res.status).toBe(200);
  });

  it('checks the Origin of a WebSocket upgrade the same way', async () => {
    await expect(upgrade(t, APP)).resolves.toBe('open');
    await expect(upgrade(t, EVIL)).resolves.toBe(403);
  });

  it('issues a user token for a chosen id outside production, to allowed origins', async () => {
    const res = await request(t.url)
      .post('/dev/token')
      .set('origin', APP)
      .send({ userId: 'alice' });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.body).toMatchObject({ userId: 'alice', expiresInSeconds: 43200 });
    const me = await request(t.url)
      .post('/graphql')
      .set('authorization', `Bearer ${res.body.token}`)
      .send({ query: '{ me { id } }' });
    expect(me.body.data.me.id).toBe('alice');
    // Only a user's token: a service or admin query is refused.
    const drift = await request(t.url)
      .post('/graphql')
      .set('authorization', `Bearer ${res.body.token}`)
      .send({ query: '{ creditDrift { userId } }' });
    expect(drift.body.errors[0].extensions.code).toBe('FORBIDDEN');

    const bad = await request(t.url).post('/dev/token').send({ userId: 'no spaces please' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    const evil = await request(t.url).post('/dev/token').set('origin', EVIL).send({ userId: 'x' });
    expect(evil.status).toBe(403);
  });
});

describe("with an operator's own JWT secret", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ NODE_ENV: 'development' });
  });
  afterAll(() => t?.close());

  it('offers no development tokens unless DEV_TOKENS=true: they would be real ones', async () => {
    expect(t.config.jwt.usingDevSecret).toBe(false);
    const res = await request(t.url).post('/dev/token').send({ userId: 'alice' });
    expect(res.status).toBe(404);
  });
});

describe('in production', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(PRODUCTION_TEST_ENV);
  });
  afterAll(() => t?.close());

  it('offers no development token route, and allows no other origin by default', async () => {
    expect(t.config.corsOrigins).toEqual([]);
    const res = await request(t.url).post('/dev/token').send({ userId: 'alice' });
    expect(res.status).toBe(404);
    const preflight = await request(t.url)
      .options('/graphql')
      .set('origin', 'http://localhost:5173')
      .set('access-control-request-method', 'POST');
    expect(preflight.status).toBe(403);
  });

  it('trusts PUBLIC_URL, not the Host header, for same-origin (no DNS rebinding)', async () => {
    const port = new URL(t.url).port;
    const rebound = `rebind.attacker.example:${port}`;
    const res = await request(t.url)
      .post('/graphql')
      .set('host', rebound)
      .set('origin', `http://${rebound}`)
      .set('content-type', 'application/json')
      .send({ query: '{ products { id } }' });
    expect(res.status).toBe(403);
    const own = await request(t.url)
      .post('/graphql')
      .set('origin', t.url)
      .set('content-type', 'application/json')
      .send({ query: '{ products { id } }' });
    expect(own.status).toBe(200);
  });
});
