import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { signToken } from '../../src/auth';
import { MeDocument } from '../generated/graphql';
import { gql } from '../support/graphql';
import { startTestServer, type TestServer } from '../support/server';

/** Tokens from an identity provider: verified against its JWKS, with issuer and audience. */
describe('JWT_JWKS_URL with issuer and audience', () => {
  let jwks: Server;
  let t: TestServer;
  let privateKey: CryptoKey;
  let otherKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateKey = pair.privateKey;
    otherKey = (await generateKeyPair('ES256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const port = (jwks.address() as AddressInfo).port;
    t = await startTestServer({
      JWT_SECRET: '',
      JWT_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
      JWT_ISSUER: 'https://auth.example.com/',
      JWT_AUDIENCE: 'tally',
    });
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  function sign(key: CryptoKey, claims: { iss?: string; aud?: string } = {}): Promise<string> {
    return new SignJWT({ role: 'user' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('idp-user')
      .setIssuer(claims.iss ?? 'https://auth.example.com/')
      .setAudience(claims.aud ?? 'tally')
      .setExpirationTime('5m')
      .sign(key);
  }

  it('accepts a token signed by a key of the JWKS', async () => {
    const res = await gql(t.url, MeDocument, { token: await sign(privateKey) });
    expect(res.status).toBe(200);
    expect(res.data?.me.id).toBe('idp-user');
  });

  it('refuses another key, another issuer, another audience, and HS256 tokens', async () => {
    const tokens = [
      await sign(otherKey),
      await sign(privateKey, { iss: 'https://evil.example.com/' }),
      await sign(privateKey, { aud: 'someone-else' }),
      await signToken({ secret: 'x'.repeat(40), subject: 'idp-user' }),
    ];
    for (const token of tokens) {
      const res = await gql(t.url, MeDocument, { token });
      expect(res.status).toBe(401);
      expect(res.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    }
  });
});
