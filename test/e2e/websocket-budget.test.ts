import { createClient, type Client } from 'graphql-ws';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { startTestServer, TEST_JWT_SECRET, type TestServer } from '../support/server';

const PROTOCOL = 'graphql-transport-ws';

/** A graphql-ws client whose socket leaves from `localAddress` (any 127.x is this machine). */
function clientFrom(
  t: TestServer,
  token: string,
  localAddress: string,
  options: { lazy?: boolean } = {},
): Client {
  class FromAddress extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { localAddress });
    }
  }
  return createClient({
    url: `${t.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: FromAddress,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: options.lazy ?? true,
  });
}

type Result = { data?: unknown; errors?: Array<{ message: string; extensions?: unknown }> };

function run(client: Client, query: string, variables?: Record<string, unknown>): Promise<Result> {
  return new Promise((resolve, reject) => {
    let result: Result = {};
    client.subscribe(
      { query, ...(variables ? { variables } : {}) },
      {
        next: (value) => {
          result = value as Result;
        },
        error: (error: unknown) =>
          Array.isArray(error) ? resolve({ errors: error as Result['errors'] }) : reject(error),
        complete: () => resolve(result),
      },
    );
  });
}

/** Opens a raw socket that never sends connection_init: how it ended, or 'open'. */
function silentSocket(t: TestServer, localAddress: string): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${t.url.replace('http', 'ws')}/graphql`, PROTOCOL, {
      localAddress,
    });
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    socket.once('error', () => resolve(0));
  });
}

describe('WebSocket budget: anonymous sockets never crowd out signed-in users', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({
      WS_MAX_CONNECTIONS: '20',
      WS_MAX_PENDING_CONNECTIONS: '20',
      WS_MAX_PENDING_PER_ADDRESS: '5',
      WS_MAX_CONNECTIONS_PER_ADDRESS: '30',
      WS_INIT_TIMEOUT_MS: '500',
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('sockets that never sign in, reopened as soon as closed, leave users served', async () => {
    // Before: 20 such sockets held all of WS_MAX_CONNECTIONS=20; a user got 503 for 6 s.
    const attacker = '127.0.0.2';
    const statuses = new Map<string, number>();
    const closeCodes = new Map<number, number>();
    let attacking = true;
    const count = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1);
    const hold = async (): Promise<void> => {
      while (attacking) {
        const socket = await silentSocket(t, attacker);
        if (typeof socket === 'number') {
          count(statuses, String(socket));
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        count(statuses, 'open');
        const code = await new Promise<number>((r) => socket.once('close', (c) => r(c)));
        count(closeCodes, code);
      }
    };
    const holders = Array.from({ length: 20 }, () => hold());
    await new Promise((r) => setTimeout(r, 300));

    const user = clientFrom(t, await t.token('ws-budget-user'), '127.0.0.3');
    const served: number[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const started = performance.now();
        const me = await run(user, '{ me { id credits } }');
        expect(me.data).toEqual({ me: { id: 'ws-budget-user', credits: 0 } });
        served.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      attacking = false;
      await user.dispose();
      await Promise.all(holders);
    }
    // The attacker had 5 places waiting to sign in, each closed after 500 ms (4408), and
    // was refused (429) beyond them.
    expect(statuses.get('open')).toBeGreaterThan(5);
    expect(statuses.get('429')).toBeGreaterThan(0);
    expect(statuses.get('503')).toBeUndefined();
    expect(closeCodes.get(4408)).toBe(statuses.get('open'));
    expect(Math.max(...served)).toBeLessThan(2000);
  });

  it('signed-in places are capped apart: the 21st user waits (1013), pending sockets do not count', async () => {
    const clients: Client[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        // Not lazy: each keeps its socket open after the query, as a live page does.
        const client = clientFrom(t, await t.token(`ws-full-${i}`), `127.0.1.${i + 1}`, {
          lazy: false,
        });
        clients.push(client);
        expect((await run(client, '{ me { id } }')).data).toEqual({ me: { id: `ws-full-${i}` } });
      }
      const late = clientFrom(t, await t.token('ws-full-late'), '127.0.2.1');
      clients.push(late);
      await expect(run(late, '{ me { id } }')).rejects.toMatchObject({ code: 1013 });
      // A socket that has not signed in yet still opens: it does not take a user's place.
      const pending = await silentSocket(t, '127.0.2.2');
      expect(pending).toBeInstanceOf(WebSocket);
      (pending as WebSocket).close();
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
    }
  });
});

describe('WebSocket operations share the HTTP checks', () => {
  let t: TestServer;
  let printed: jest.SpyInstance[];
  beforeAll(async () => {
    t = await startTestServer();
  });
  beforeEach(() => {
    printed = (['error', 'warn', 'log'] as const).map((name) =>
      jest.spyOn(console, name).mockImplementation(() => undefined),
    );
  });
  afterEach(() => {
    for (const spy of printed) spy.mockRestore();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('a variable of the wrong type is an error for that operation; the socket stays open', async () => {
    // Before: the socket was closed with 4500 and a stack went to console.error.
    const client = clientFrom(t, await t.token('ws-vars'), '127.0.0.1', { lazy: false });
    let closed: number | undefined;
    client.on('closed', (event) => {
      closed = (event as { code: number }).code;
    });
    try {
      const bad = await run(
        client,
        'query ($n: Int) { me { orders(first: $n) { edges { node { id } } } } }',
        { n: 'ten' },
      );
      expect(bad.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
      expect(bad.errors?.[0]?.message).toMatch(/\$n/);
      const attack = Array.from(
        { length: 30 },
        (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
      ).join(' ');
      const costly = await run(
        client,
        `query Q { ...F0 } ${attack} fragment F30 on Query { __typename }`,
      );
      expect(costly.errors?.[0]?.message).toMatch(/^Query is too expensive/);
      const after = await run(client, '{ me { id } }');
      expect(after.data).toEqual({ me: { id: 'ws-vars' } });
      expect(closed).toBeUndefined();
    } finally {
      await client.dispose();
    }
    for (const spy of printed) expect(spy).not.toHaveBeenCalled();
  });

  it('an oversized or broken frame closes only that socket, and prints nothing', async () => {
    const socket = (await silentSocket(t, '127.0.0.1')) as WebSocket;
    const code = await new Promise<number>((resolve) => {
      socket.once('close', (c) => resolve(c));
      socket.send('x'.repeat(70 * 1024));
    });
    expect(code).toBe(1009);
    for (const spy of printed) expect(spy).not.toHaveBeenCalled();
    expect(t.logs.some((l) => l['msg'] === 'WebSocket client error')).toBe(true);
  });

  it('found by fuzzing: operation names and conditional subscription roots are errors of the operation', async () => {
    // Not lazy: one socket for every operation, so a close in between would show.
    const client = clientFrom(t, await t.token('ws-fuzz'), '127.0.0.1', { lazy: false });
    let closed: number | undefined;
    client.on('closed', (event) => {
      closed = (event as { code: number }).code;
    });
    const runNamed = (query: string, operationName: string) =>
      new Promise<Result>((resolve, reject) => {
        let result: Result = {};
        client.subscribe(
          { query, operationName },
          {
            next: (value) => {
              result = value as Result;
            },
            error: (error: unknown) =>
              Array.isArray(error) ? resolve({ errors: error as Result['errors'] }) : reject(error),
            complete: () => resolve(result),
          },
        );
      });
    try {
      // Before: INTERNAL_SERVER_ERROR for a name the document lacks, and for "".
      const unknown = await runNamed('query A { me { id } }', 'Nope');
      expect(unknown.errors?.[0]).toMatchObject({
        message: 'The document has no operation named "Nope"',
        extensions: { code: 'BAD_USER_INPUT' },
      });
      expect((await runNamed('{ me { id } }', '')).data).toEqual({ me: { id: 'ws-fuzz' } });
      // Before: the socket was closed with 4500 ("undefined is not iterable").
      const skipped = await run(
        client,
        'subscription { balanceChanged @include(if: false) { balance } }',
      );
      expect(skipped.errors?.[0]?.message).toBe(
        "A subscription's root field cannot have @skip or @include",
      );
      expect((await run(client, '{ me { id } }')).data).toEqual({ me: { id: 'ws-fuzz' } });
      expect(closed).toBeUndefined();
    } finally {
      await client.dispose();
    }
  });

  it('a message only a server sends closes the socket as a protocol error (4400), not 4500', async () => {
    const socket = (await silentSocket(t, '127.0.0.1')) as WebSocket;
    socket.send(
      JSON.stringify({
        type: 'connection_init',
        payload: { authorization: `Bearer ${await t.token('ws-next')}` },
      }),
    );
    await new Promise((r) => socket.once('message', r));
    const code = await new Promise<number>((resolve) => {
      socket.once('close', (c) => resolve(c));
      socket.send(JSON.stringify({ type: 'next', id: '1', payload: {} }));
    });
    expect(code).toBe(4400);
    for (const spy of printed) expect(spy).not.toHaveBeenCalled();
  });

  it('a token without exp is refused at connection_init (4403)', async () => {
    const token = await new SignJWT({ role: 'user' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('forever')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const client = clientFrom(t, token, '127.0.0.1');
    try {
      await expect(run(client, '{ me { id } }')).rejects.toMatchObject({ code: 4403 });
    } finally {
      await client.dispose();
    }
  });
});
