import fc from 'fast-check';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../support/server';
import { createFixtures, type Fixtures } from './fixtures';
import {
  graphqlRequestArbitrary,
  type DocumentOptions,
  type GeneratedRequest,
} from './graphql-documents';
import {
  callerArbitrary,
  createCallers,
  judgeResult,
  operationKind,
  type Callers,
  type CallerKind,
} from './graphql-oracle';
import {
  assertHealthy,
  BOUND_MS,
  clip,
  errorProblems,
  failureKind,
  Findings,
  fuzzParameters,
  fuzzTimeout,
  LONG_RUN,
  MAX_FRAGMENT_CHAIN,
  printedAs,
  writeLog,
  within,
  type WriteLog,
} from './harness';

/**
 * Random GraphQL over the WebSocket (graphql-transport-ws), and random frames. Properties:
 *  - the server never closes a socket with 4500 (or 1011) whatever the document, variables or
 *    frames; an authenticated socket that sent a well-formed `subscribe` is not closed at all
 *    and answers a `{ __typename }` right after, on the same socket;
 *  - a connection without a valid token is refused with 4403 (4400 for a connection_init
 *    payload that is not an object, as the protocol says), never more;
 *  - every error has a code of the closed list, never INTERNAL_SERVER_ERROR;
 *  - the first answer to a query or mutation comes within BOUND_MS;
 *  - a refused operation (an `error` message, or every root field failed: graphql-oracle.ts)
 *    changed no row;
 *  - /healthz still answers afterwards.
 * Close codes a raw frame may earn, per the protocol: 4400 (invalid message), 4401 (subscribe
 * before the ack), 4409 (an id already in use), 4429 (a second connection_init).
 */

const OPTIONS: DocumentOptions = {
  maxDepth: 18,
  maxFields: LONG_RUN ? 80 : 40,
  maxFragmentChain: MAX_FRAGMENT_CHAIN,
};

/** How long a running subscription is watched before it is ended. */
const SUBSCRIPTION_WATCH_MS = 50;

interface Outcome {
  nexts: unknown[];
  /** GraphQL errors (the operation was refused) or a CloseEvent. */
  error?: unknown;
  completed: boolean;
  /** Time to the first message, when there was one. */
  firstMs?: number;
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;
}

/** Runs of each property in the bounded (CI) run; FUZZ_RUNS replaces them all. */
const SUBSCRIBE_RUNS = 600;
const FRAME_RUNS = 600;

describe('fuzzing GraphQL over WebSocket', () => {
  let t: TestServer;
  let fixtures: Fixtures;
  let callers: Callers;
  let writes: WriteLog;
  let findings: Findings;
  const wsUrl = () => `${t.url.replace('http', 'ws')}/graphql`;

  /** Open clients per authorization header, each with the close codes it has seen. */
  const clients = new Map<string, { client: Client; closes: number[] }>();

  function clientFor(header: string | undefined, params?: unknown) {
    const key = JSON.stringify([header, params]);
    let entry = clients.get(key);
    if (!entry) {
      const closes: number[] = [];
      const client = createClient({
        url: wsUrl(),
        webSocketImpl: WebSocket,
        connectionParams: (params ?? (header ? { authorization: header } : undefined)) as
          Record<string, unknown> | undefined,
        retryAttempts: 0,
        lazy: true,
        lazyCloseTimeout: 60_000,
        on: { closed: (event) => closes.push((event as { code: number }).code) },
      });
      entry = { client, closes };
      clients.set(key, entry);
    }
    return entry;
  }

  function run(
    client: Client,
    payload: {
      query: string;
      variables?: Record<string, unknown> | null;
      operationName?: string | null;
    },
    watchMs: number,
  ): Promise<Outcome> {
    const started = performance.now();
    return new Promise((resolve) => {
      const outcome: Outcome = { nexts: [], completed: false };
      const first = () => {
        outcome.firstMs ??= performance.now() - started;
      };
      let unsubscribe = () => undefined as void;
      let watching = true;
      const timer = setTimeout(() => {
        // Ending the watch completes the sink: that is not an answer.
        watching = false;
        unsubscribe();
        resolve(outcome);
      }, watchMs);
      unsubscribe = client.subscribe(payload, {
        next: (value) => {
          first();
          outcome.nexts.push(value);
        },
        error: (error) => {
          first();
          outcome.error = error;
          clearTimeout(timer);
          resolve(outcome);
        },
        complete: () => {
          if (!watching) return;
          first();
          outcome.completed = true;
          clearTimeout(timer);
          resolve(outcome);
        },
      });
    });
  }

  beforeAll(async () => {
    t = await startTestServer();
    fixtures = await createFixtures(t);
    callers = await createCallers(t);
    writes = await writeLog(t.server.dataSource);
  }, 120_000);
  beforeEach(() => {
    findings = new Findings();
  });
  afterEach(async () => {
    await assertHealthy(t.url);
    findings.report();
  });
  afterAll(async () => {
    for (const { client } of clients.values()) await client.dispose();
    await t?.close();
  });

  /** A payload graphql-ws's client will send (it refuses to send a malformed one itself). */
  function wellFormed(generated: GeneratedRequest) {
    const variables = generated.variables;
    return {
      query: generated.query,
      variables:
        variables !== null && typeof variables === 'object' && !Array.isArray(variables)
          ? (variables as Record<string, unknown>)
          : null,
      operationName: typeof generated.operationName === 'string' ? generated.operationName : null,
    };
  }

  async function checkAuthenticated(generated: GeneratedRequest, kind: CallerKind, index: number) {
    const header = callers.header(kind, index)!;
    const entry = clientFor(header);
    entry.closes.length = 0;
    const payload = wellFormed(generated);
    const before = await writes.mark();
    // The operation that runs (the document may hold several): a subscription may stay
    // silent; anything else must answer.
    const live = operationKind(payload.query, payload.operationName) === 'subscription';
    const outcome = await run(entry.client, payload, live ? SUBSCRIPTION_WATCH_MS : BOUND_MS * 3);
    const probe = await run(entry.client, { query: '{ __typename }' }, BOUND_MS * 3);
    const changed = await writes.since(before);

    const failures: string[] = [];
    const kinds: string[] = [];
    const closed = [...entry.closes];
    if (closed.length > 0) {
      const reason = isCloseEvent(outcome.error) ? outcome.error.reason : '';
      failures.push(`[socket stays open] closed with ${closed.join(', ')}: ${reason}`);
      kinds.push(failureKind(`[socket stays open] closed ${closed.join(', ')}`, reason));
    }
    const refusedErrors = Array.isArray(outcome.error) ? outcome.error : undefined;
    const problems = [
      ...errorProblems(refusedErrors),
      ...outcome.nexts.flatMap((n) => judgeResult(n, payload).problems),
    ];
    for (const problem of problems) {
      failures.push(`[error codes] ${problem}`);
      kinds.push(failureKind('[error codes]', problem));
    }
    const answered = outcome.error !== undefined || outcome.completed || outcome.nexts.length > 0;
    if (!live && !answered && closed.length === 0) {
      failures.push(`[bound] no answer within ${BOUND_MS * 3} ms`);
      kinds.push('[bound] no answer');
    } else if (outcome.firstMs !== undefined && outcome.firstMs > BOUND_MS) {
      failures.push(`[bound] first answer after ${outcome.firstMs.toFixed(0)} ms`);
      kinds.push('[bound]');
    }
    const probeData = (probe.nexts[0] as { data?: unknown } | undefined)?.data;
    if (JSON.stringify(probeData) !== '{"__typename":"Query"}' || !probe.completed) {
      failures.push(`[socket stays usable] the next query got ${clip(probe, 300)}`);
      kinds.push('[socket stays usable]');
    }
    const refused = refusedErrors
      ? '(A) an error message'
      : outcome.nexts.length === 1
        ? judgeResult(outcome.nexts[0], payload).refused
        : undefined;
    if (refused && changed.length > 0) {
      failures.push(`[nothing written] refused (${refused}) but changed: ${changed.join(', ')}`);
      kinds.push(`[nothing written] ${changed.join(', ')}`);
    }
    if (failures.length > 0) {
      findings.fail(
        kinds,
        `${failures.join('\n')}\nsubscribe as ${kind}: ${clip(payload, 3000)}\n` +
          `→ ${clip({ ...outcome, error: isCloseEvent(outcome.error) ? { code: outcome.error.code, reason: outcome.error.reason } : outcome.error }, 2000)}`,
      );
    }
  }

  /** A connection_init the server must refuse: 4403, or 4400 for a payload that is no object. */
  async function checkRefusedConnection(params: unknown, description: string) {
    const socket = new WebSocket(wsUrl(), 'graphql-transport-ws');
    socket.on('error', () => undefined);
    const received: string[] = [];
    socket.on('message', (data) => received.push(String(data)));
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: params }));
    const code = await within(closed, BOUND_MS);
    socket.terminate();
    const malformedInit =
      params !== undefined &&
      params !== null &&
      (typeof params !== 'object' || Array.isArray(params));
    const allowed = malformedInit ? [4400, 4403] : [4403];
    if (code === undefined || !allowed.includes(code)) {
      findings.fail(
        [`[refused with 4403] got ${code ?? 'no close'}`],
        `[refused with 4403] connection_init ${clip(params, 500)} (${description}) → ` +
          `${code ?? `still open after ${BOUND_MS} ms`}, received ${clip(received, 300)}`,
      );
    }
  }

  it(
    'subscribe: random documents and variables, every caller; never 4500, the socket stays usable',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          graphqlRequestArbitrary(fixtures.known, OPTIONS),
          callerArbitrary,
          fc.constantFrom<unknown>(
            undefined,
            null,
            {},
            { authorization: 42 },
            { Authorization: 'Bearer not.a.token' },
            { authorization: ['Bearer x'] },
            [],
            'Bearer x',
          ),
          async (generated, caller, params) => {
            if (caller.kind === 'anonymous') await checkRefusedConnection(params, 'params');
            else if (caller.kind === 'bad') {
              await checkRefusedConnection(
                { authorization: callers.header('bad', caller.index) },
                `bad token ${caller.index}`,
              );
            } else await checkAuthenticated(generated, caller.kind, caller.index);
          },
        ),
        fuzzParameters('WebSocket subscribe', SUBSCRIBE_RUNS),
      );
    },
    fuzzTimeout(SUBSCRIBE_RUNS),
  );

  it(
    'raw frames after connection_init: never 4500, only the protocol close codes',
    async () => {
      const frame = fc.oneof(
        fc.string({ maxLength: 100 }),
        fc.string({ unit: 'binary', maxLength: 100 }),
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc
          .record({
            type: fc.constantFrom(
              'subscribe',
              'complete',
              'ping',
              'pong',
              'connection_init',
              'next',
              'nope',
              '',
            ),
            id: fc.oneof(
              fc.constantFrom('1', '1', '', '__proto__'),
              fc.string({ maxLength: 10 }),
              fc.integer(),
            ),
            payload: fc.oneof(
              fc.jsonValue({ maxDepth: 2 }),
              fc.record({
                query: fc.oneof(
                  fc.constantFrom(
                    '{ __typename }',
                    'subscription { balanceChanged { balance } }',
                    '{ me { id } }',
                  ),
                  fc.string({ maxLength: 40 }),
                ),
                variables: fc.oneof(fc.constant({}), fc.jsonValue({ maxDepth: 2 })),
                operationName: fc.oneof(
                  fc.constant(null),
                  fc.string({ maxLength: 5 }),
                  fc.integer(),
                ),
                extensions: fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 1 })),
              }),
            ),
          })
          .map((m) => JSON.stringify(m)),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(frame, { minLength: 1, maxLength: 6 }).map((frames) => printedAs({ frames })),
          async ({ frames }) => {
            const token = callers.header('user', 0)!;
            const socket = new WebSocket(wsUrl(), 'graphql-transport-ws');
            const received: string[] = [];
            const closed = new Promise<number>((resolve) =>
              socket.on('close', (code) => resolve(code)),
            );
            const acked = new Promise<void>((resolve) =>
              socket.on('message', (data) => {
                received.push(String(data));
                if (String(data).includes('"connection_ack"')) resolve();
              }),
            );
            socket.on('error', () => undefined);
            await new Promise((resolve) => socket.once('open', resolve));
            socket.send(
              JSON.stringify({ type: 'connection_init', payload: { authorization: token } }),
            );
            await within(Promise.race([acked, closed]), BOUND_MS);
            for (const f of frames) socket.send(f);
            // A ping the server must answer while the socket is open.
            socket.send(JSON.stringify({ type: 'ping' }));
            const code = await within(closed, 300);
            socket.terminate();
            const problems: string[] = [];
            if (code !== undefined && ![4400, 4401, 4409, 4429].includes(code)) {
              problems.push(`[protocol close codes] closed with ${code}`);
            }
            for (const text of received) {
              let message: { type?: string; payload?: unknown };
              try {
                message = JSON.parse(text) as typeof message;
              } catch {
                problems.push(`[protocol] a frame that is not JSON: ${clip(text, 200)}`);
                continue;
              }
              if (message.type === 'error') problems.push(...errorProblems(message.payload));
              if (message.type === 'next')
                problems.push(...judgeResult(message.payload, { query: '' }).problems);
            }
            if (problems.length > 0) {
              findings.fail(
                problems.map((p) => failureKind('[raw frames]', p)),
                `${problems.join('\n')}\nframes: ${clip(frames, 3000)}\nreceived: ${clip(received, 2000)}`,
              );
            }
          },
        ),
        fuzzParameters('WebSocket raw frames', FRAME_RUNS),
      );
    },
    fuzzTimeout(FRAME_RUNS),
  );
});
