import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { MeDocument, ProductsDocument } from '../generated/graphql';
import { startTestServer, type TestServer } from '../support/server';

function wsClient(
  t: TestServer,
  connectionParams?: Record<string, unknown>,
  origin?: string,
): Client {
  class WithOrigin extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, origin ? { headers: { origin } } : {});
    }
  }
  return createClient({
    url: `${t.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WithOrigin,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
}

async function run(client: Client, query: string): Promise<{ data?: unknown; errors?: unknown[] }> {
  return new Promise((resolve, reject) => {
    let result: { data?: unknown; errors?: unknown[] } = {};
    client.subscribe(
      { query },
      {
        next: (value) => {
          result = value as typeof result;
        },
        error: (error: unknown) => reject(error),
        complete: () => resolve(result),
      },
    );
  });
}

describe('GraphQL over WebSocket (graphql-transport-ws) on /graphql', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('runs operations on the same port and path as HTTP, with the token from connection_init', async () => {
    const client = wsClient(t, { authorization: `Bearer ${await t.token('ws-user')}` });
    try {
      const products = await run(client, print(ProductsDocument));
      expect((products.data as { products: unknown[] }).products).toHaveLength(3);
      const me = await run(client, print(MeDocument));
      expect(me.data).toEqual({
        me: { id: 'ws-user', credits: 0, plan: 'free', subscription: null },
      });
    } finally {
      await client.dispose();
    }
  });

  it('refuses a connection without a token at connection_init with 4403', async () => {
    const client = wsClient(t);
    try {
      await expect(run(client, print(MeDocument))).rejects.toMatchObject({ code: 4403 });
    } finally {
      await client.dispose();
    }
  });

  it('closes the connection for a bad token with 4403 Forbidden', async () => {
    const client = wsClient(t, { authorization: 'Bearer not.a.token' });
    try {
      await expect(run(client, print(ProductsDocument))).rejects.toMatchObject({ code: 4403 });
    } finally {
      await client.dispose();
    }
  });

  it('applies the depth limit to WebSocket operations too', async () => {
    const ofTypes = (n: number): string => (n === 0 ? 'name' : `name ofType { ${ofTypes(n - 1)} }`);
    const client = wsClient(t, { authorization: `Bearer ${await t.token('ws-deep')}` });
    try {
      await expect(
        run(client, `{ __schema { types { fields { type { ${ofTypes(20)} } } } } }`),
      ).rejects.toEqual([
        expect.objectContaining({ message: expect.stringMatching(/Introspection is too deep/) }),
      ]);
    } finally {
      await client.dispose();
    }
  });

  it('refuses a browser from an origin that is not allowed', async () => {
    const client = wsClient(t, undefined, 'https://evil.example');
    try {
      await expect(run(client, print(ProductsDocument))).rejects.toBeDefined();
    } finally {
      await client.dispose();
    }
  });
});
