import fc from 'fast-check';
import { startTestServer, type TestServer } from '../support/server';
import { createFixtures, type Fixtures } from './fixtures';
import {
  graphqlRequestArbitrary,
  NASTY_STRINGS,
  type DocumentOptions,
  type GeneratedRequest,
} from './graphql-documents';
import {
  callerArbitrary,
  createCallers,
  judgeResult,
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
  send,
  settle,
  writeLog,
  type RawRequest,
  type RawResponse,
  type WriteLog,
} from './harness';

/**
 * Random GraphQL over HTTP, POST and GET, anonymous and with user, service, admin and bad
 * tokens, and raw garbage. Properties of every answer (see graphql-oracle.ts for "refused"):
 *  - no HTTP status of 500 or more, no INTERNAL_SERVER_ERROR, every error with a known code;
 *  - answered within BOUND_MS;
 *  - a refused request changed no row of any table;
 *  - /healthz still answers afterwards.
 */

const OPTIONS: DocumentOptions = {
  maxDepth: 18,
  maxFields: LONG_RUN ? 80 : 40,
  maxFragmentChain: MAX_FRAGMENT_CHAIN,
};

/** The transport half of a POST: headers that change how the body is read and answered. */
interface Transport {
  contentType: string | undefined;
  accept: string | undefined;
  requestId: string | undefined;
}

/**
 * A chain of 22 fragments, each spreading the next twice: 4 million paths through a 1 KB
 * document. An exponential walk over fragments takes seconds on it (the time bound); a
 * linear one, milliseconds. The bounded run caps random chains at MAX_FRAGMENT_CHAIN so that
 * such a walk cannot stall CI, so this one case is always sent first.
 */
const FRAGMENT_CHAIN_EXAMPLE: [GeneratedRequest, { kind: CallerKind; index: number }, Transport] = [
  {
    kind: 'query',
    query: [
      'query Chain { ...C0 }',
      ...Array.from(
        { length: 22 },
        (_, i) => `fragment C${i} on Query { ...C${i + 1} ...C${i + 1} }`,
      ),
      'fragment C22 on Query { __typename }',
    ].join('\n'),
    variables: {},
  },
  { kind: 'anonymous', index: 0 },
  { contentType: 'application/json', accept: 'application/json', requestId: undefined },
];

/** Runs of each property in the bounded (CI) run; FUZZ_RUNS replaces them all. */
const POST_RUNS = 800;
const GET_RUNS = 1000;
const GARBAGE_RUNS = 1200;

describe('fuzzing GraphQL over HTTP', () => {
  let t: TestServer;
  let fixtures: Fixtures;
  let callers: Callers;
  let writes: WriteLog;
  let findings: Findings;

  beforeAll(async () => {
    t = await startTestServer();
    fixtures = await createFixtures(t);
    callers = await createCallers(t);
    writes = await writeLog(t.server.dataSource);
    // The playground page is built on its first request (9 MB, gzipped): not what is fuzzed.
    await send(
      t.url,
      { method: 'GET', path: '/graphql', headers: { accept: 'text/html' } },
      30_000,
    );
  }, 120_000);
  beforeEach(() => {
    findings = new Findings();
  });
  afterEach(async () => {
    await assertHealthy(t.url);
    findings.report();
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Sends one request and checks every property; throws a message naming the broken one. */
  async function check(
    request: RawRequest,
    graphql: { query: unknown; operationName?: unknown },
    caller: string,
  ): Promise<void> {
    const described = () =>
      `${request.method} ${clip(request.path, 2000)} as ${caller}\n` +
      `headers: ${clip(request.headers, 500)}\nbody: ${clip(request.body?.toString() ?? '', 4000)}`;
    // Taken right before: a query answered with `data: null` (a non-null root field failed at
    // once) may still be creating its `me` profile after the answer (graphql-js does not wait
    // for the siblings), so a mark taken after the previous request could miss that write.
    const before = await writes.mark();
    let res: RawResponse;
    try {
      res = await send(t.url, request);
    } catch (error) {
      await settle(t.url);
      findings.fail(
        [failureKind('[bound]', 'no answer')],
        `[bound] ${String(error)}\n${described()}`,
      );
      return;
    }
    const answered = `→ ${res.status} in ${res.ms.toFixed(0)} ms: ${clip(res.text, 2000)}`;
    const changed = await writes.since(before);
    const failures: string[] = [];
    const kinds: string[] = [];
    const isJson = /json/.test(String(res.headers['content-type']));
    const judged = isJson
      ? judgeResult(res.json, graphql)
      : {
          problems: [],
          refused: res.status >= 400 ? `a ${res.status} that is not JSON` : undefined,
        };
    if (res.status >= 500) {
      failures.push(`[no 5xx] status ${res.status}`);
      // A masked error says nothing of its cause: where it happened tells kinds apart.
      const paths = ((res.json as { errors?: Array<{ path?: unknown }> } | undefined)?.errors ?? [])
        .map((e) =>
          Array.isArray(e.path) ? e.path.filter((p) => typeof p === 'string').join('.') : '',
        )
        .join(' ');
      kinds.push(failureKind('[no 5xx]', `${res.status} ${judged.problems.join(' ')} at ${paths}`));
    }
    if (res.ms > BOUND_MS) {
      failures.push(`[bound] ${res.ms.toFixed(0)} ms > ${BOUND_MS} ms`);
      kinds.push('[bound]');
    }
    for (const problem of judged.problems) {
      failures.push(`[error codes] ${problem}`);
      if (res.status < 500) kinds.push(failureKind('[error codes]', problem));
    }
    if (judged.refused && changed.length > 0) {
      failures.push(
        `[nothing written] refused (${judged.refused}) but changed: ${changed.join(', ')}`,
      );
      kinds.push(`[nothing written] ${changed.join(', ')}`);
    }
    if (failures.length > 0) {
      findings.fail(kinds, `${failures.join('\n')}\n${described()}\n${answered}`);
    }
  }

  const acceptHeader = fc.constantFrom(
    'application/graphql-response+json, application/json',
    'application/json',
    undefined,
    '*/*',
    'text/html',
    'multipart/mixed; deferSpec=20220824, application/json',
    'text/event-stream',
  );

  function headersFor(
    kind: CallerKind,
    index: number,
    extra: Record<string, string | undefined>,
  ): Record<string, string> {
    const headers: Record<string, string> = {};
    const authorization = callers.header(kind, index);
    if (authorization !== undefined) headers['authorization'] = authorization;
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) headers[k] = v;
    return headers;
  }

  it('control: the oracles see a write, tell refusals apart and flag a masked 500', async () => {
    const before = await writes.mark();
    const res = await send(t.url, {
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json', authorization: callers.header('admin', 0)! },
      body: JSON.stringify({
        query: `mutation { adjustCredits(input: { userId: "fuzz-u2", amount: 1, description: "control",
                  idempotencyKey: "control" }) { balance } }`,
      }),
    });
    expect(res.status).toBe(200);
    expect(await writes.since(before)).toEqual(
      expect.arrayContaining(['credit_transactions', 'idempotency_keys']),
    );
    // A refused deduction's transaction rolls back: the log shows nothing of it.
    const refusedAt = await writes.mark();
    const refused = await send(t.url, {
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json', authorization: callers.header('service', 0)! },
      body: JSON.stringify({
        query: `mutation { deductCredits(input: { userId: "fuzz-u2", amount: 100000000,
                  description: "control", idempotencyKey: "control-refused" }) { balance } }`,
      }),
    });
    expect(refused.text).toMatch(/INSUFFICIENT_CREDITS/);
    expect(await writes.since(refusedAt)).toEqual([]);

    const deduct = `mutation { deductCredits(input: { userId: "x", amount: 1, description: "d",
                      idempotencyKey: "k" }) { balance } }`;
    expect(
      judgeResult({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] }, { query: '{' }).refused,
    ).toMatch(/^\(A\)/);
    expect(
      judgeResult(
        {
          data: null,
          errors: [{ path: ['deductCredits'], extensions: { code: 'INSUFFICIENT_CREDITS' } }],
        },
        { query: deduct },
      ).refused,
    ).toMatch(/^\(B\)/);
    // An error below the root field: the field itself ran (and `me` may have made a profile).
    expect(
      judgeResult(
        {
          data: null,
          errors: [{ path: ['me', 'orders'], extensions: { code: 'BAD_USER_INPUT' } }],
        },
        { query: '{ me { orders { edges { cursor } } } }' },
      ).refused,
    ).toBeUndefined();
    expect(
      errorProblems([
        { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
      ]),
    ).toEqual(['an INTERNAL_SERVER_ERROR']);
  });

  it(
    'POST /graphql: random documents from the schema, random variables, every caller',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          graphqlRequestArbitrary(fixtures.known, OPTIONS),
          callerArbitrary,
          fc.record({
            contentType: fc.constantFrom(
              'application/json',
              'application/json; charset=utf-8',
              'application/json',
              'application/json',
              'text/plain',
              'application/x-www-form-urlencoded',
              'application/graphql',
              undefined,
            ),
            accept: acceptHeader,
            requestId: fc.option(fc.constantFrom('fuzz-1', 'a'.repeat(300), '../x', 'ü'), {
              nil: undefined,
            }),
          }),
          async (generated: GeneratedRequest, caller, transport) => {
            const body = JSON.stringify({
              query: generated.query,
              variables: generated.variables,
              ...(generated.operationName !== undefined
                ? { operationName: generated.operationName }
                : {}),
            });
            await check(
              {
                method: 'POST',
                path: '/graphql',
                headers: headersFor(caller.kind, caller.index, {
                  'content-type': transport.contentType,
                  accept: transport.accept,
                  'x-request-id': transport.requestId && encodeURI(transport.requestId),
                }),
                body,
              },
              generated,
              caller.kind,
            );
          },
        ),
        fuzzParameters('POST /graphql', POST_RUNS, { examples: [FRAGMENT_CHAIN_EXAMPLE] }),
      );
    },
    fuzzTimeout(POST_RUNS),
  );

  it(
    'GET /graphql: random queries in the query string, with and without the CSRF header',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          graphqlRequestArbitrary(fixtures.known, OPTIONS),
          callerArbitrary,
          fc.record({
            preflight: fc.boolean(),
            accept: acceptHeader,
            variablesAsText: fc.boolean(),
          }),
          async (generated: GeneratedRequest, caller, transport) => {
            const params = new URLSearchParams();
            params.set('query', generated.query);
            params.set(
              'variables',
              transport.variablesAsText
                ? JSON.stringify(generated.variables)
                : String(generated.variables),
            );
            if (typeof generated.operationName === 'string') {
              params.set('operationName', generated.operationName);
            }
            await check(
              {
                method: 'GET',
                path: `/graphql?${params.toString()}`,
                headers: headersFor(caller.kind, caller.index, {
                  'apollo-require-preflight': transport.preflight ? 'true' : undefined,
                  accept: transport.accept,
                }),
              },
              generated,
              caller.kind,
            );
          },
        ),
        fuzzParameters('GET /graphql', GET_RUNS),
      );
    },
    fuzzTimeout(GET_RUNS),
  );

  it(
    'POST /graphql: garbage bodies, wrong content types, sizes around the 100 KB limit',
    async () => {
      await fc.assert(
        fc.asyncProperty(garbageBody(), callerArbitrary, async (garbage, caller) => {
          await check(
            {
              method: 'POST',
              path: '/graphql',
              headers: headersFor(caller.kind, caller.index, {
                'content-type': garbage.contentType,
              }),
              body: garbage.body,
            },
            { query: garbage.query },
            caller.kind,
          );
        }),
        fuzzParameters('POST /graphql garbage', GARBAGE_RUNS),
      );
    },
    fuzzTimeout(GARBAGE_RUNS),
  );
});

/** A valid document whose `first` and `@skip` take variables: what the cost rule reads. */
const COST_VARIABLE_QUERIES = [
  'query($n: Int) { me { orders(first: $n) { edges { cursor } } } }',
  'query($b: Boolean!) { products @skip(if: $b) { id } }',
  'query($n: Int, $a: String) { me { creditTransactions(first: $n, after: $a) { edges { cursor } } } }',
];

/** JSON text nested `depth` deep, built as text (JSON.stringify would overflow the stack). */
const nested = (depth: number, open = '[', close = ']') =>
  `${open.repeat(depth)}${close.repeat(depth)}`;

interface Garbage {
  body: string;
  contentType: string | undefined;
  /** The query inside, when there is one (for judging "refused"). */
  query?: unknown;
}

function garbageBody(): fc.Arbitrary<Garbage> {
  const json = (value: unknown) => JSON.stringify(value);
  // Mostly JSON: only a JSON body gets past the body parser to what is fuzzed here.
  const contentType = fc.oneof(
    { arbitrary: fc.constant<string | undefined>('application/json'), weight: 6 },
    fc.constantFrom<string | undefined>(
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'text/plain',
      'application/octet-stream',
      undefined,
    ),
  );
  const text = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
  );
  const bodies: Array<fc.Arbitrary<{ body: string; query?: unknown }>> = [
    // Random text, and random text in the query.
    text.map((body) => ({ body })),
    text.map((q) => ({ body: json({ query: q }), query: q })),
    fc.constantFrom(...NASTY_STRINGS).map((q) => ({ body: json({ query: q }), query: q })),
    // A document cut short, anywhere.
    fc
      .tuple(
        fc.constantFrom(
          ...COST_VARIABLE_QUERIES,
          '{ me { id credits orders { edges { node { id } } } } }',
        ),
        fc.nat(),
      )
      .map(([q, cut]) => {
        const full = json({ query: q, variables: { n: 5, b: false } });
        return { body: full.slice(0, cut % full.length) };
      }),
    // JSON that is not an operation.
    fc
      .constantFrom(
        '42',
        'null',
        'true',
        '"{ __typename }"',
        '[]',
        '[{"query":"{ __typename }"},{"query":"{ products { id } }"}]',
        '{}',
        '{"query":null}',
        '{"query":42}',
        '{"query":1e400}',
        '{"query":{"kind":"Document","definitions":[]}}',
        '{"query":["{ __typename }"]}',
        '{"query":"{ __typename }","variables":"{\\"a\\":1}"}',
        '{"query":"{ __typename }","variables":1e400}',
        '{"query":"{ __typename }","operationName":{}}',
        '{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}',
        '{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}',
        '{"query":"{ __typename }","query":"mutation { cancelSubscription { id } }"}',
        '{"__proto__":{"query":"{ __typename }"}}',
        '\ufeff{"query":"{ __typename }"}',
      )
      .map((body) => ({ body })),
    // Huge numbers, in variables and in the document.
    fc
      .constantFrom(
        '1e400',
        '-1e400',
        '123456789012345678901234567890',
        '9007199254740993',
        '0.0000000000000000000001',
        '-0',
      )
      .map((n) => ({
        body: `{"query":"query($n: Int) { me { orders(first: $n) { edges { cursor } } } }","variables":{"n":${n}}}`,
      })),
    fc
      .constantFrom('99999999999999999999', '1e400', '-2147483649', '2147483648', '1.0')
      .map((n) => {
        const q = `{ me { orders(first: ${n}) { edges { cursor } } } }`;
        return { body: json({ query: q }), query: q };
      }),
    // Bodies around the 100 KB limit.
    fc.integer({ min: 100 * 1024 - 64, max: 100 * 1024 + 64 }).map((size) => {
      const head = '{"query":"{ __typename }","variables":{"pad":"';
      const tail = '"}}';
      return { body: head + 'x'.repeat(Math.max(0, size - head.length - tail.length)) + tail };
    }),
    fc.integer({ min: 99 * 1024, max: 101 * 1024 }).map((size) => {
      const q = `{ ${'__typename '.repeat(Math.floor((size - 20) / 11))}}`;
      return { body: json({ query: q }), query: q };
    }),
    // Deep nesting: of JSON in a variable the cost rule reads, of the document itself.
    fc
      .tuple(
        fc.constantFrom(...COST_VARIABLE_QUERIES),
        fc.constantFrom(2, 100, 1000, 3000, 6000, 20_000, 45_000),
      )
      .map(([q, depth]) => ({
        body: `{"query":${json(q)},"variables":{"n":${nested(depth)},"b":${nested(depth)}}}`,
      })),
    fc.constantFrom(100, 1000, 5000, 20_000, 45_000).map((depth) => {
      const q = `{ ${'a { '.repeat(depth)}${'} '.repeat(depth)}}`;
      return { body: json({ query: q }), query: q };
    }),
    fc.constantFrom(100, 1000, 5000, 20_000, 45_000).map((depth) => {
      const q = `{ products(x: ${nested(depth)}) { id } }`;
      return { body: json({ query: q }), query: q };
    }),
    fc.constantFrom(100, 1000, 5000, 12_000).map((depth) => {
      const q = `{ __schema { types { ${'ofType { '.repeat(depth)}name${' }'.repeat(depth)} } } }`;
      return { body: json({ query: q }), query: q };
    }),
    fc.constantFrom(10, 100, 1000, 10_000).map((count) => {
      const q = `{ ${Array.from({ length: count }, (_, i) => `a${i}: __typename`).join(' ')} }`;
      return { body: json({ query: q }), query: q };
    }),
    fc.constantFrom(10, 100, 1000, 5000).map((count) => {
      const q = `query ${'@skip(if: false) '.repeat(count)}{ __typename }`;
      return { body: json({ query: q }), query: q };
    }),
  ];
  return fc
    .tuple(fc.oneof(...bodies), contentType)
    .map(([b, ct]) => printedAs({ ...b, contentType: ct }));
}
