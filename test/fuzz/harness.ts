import fc from 'fast-check';
import http from 'node:http';
import type { DataSource } from 'typeorm';
import { ERROR_CODES } from '../../src/errors';

/**
 * What every fuzz file shares: how long and how hard to run, a raw HTTP client that times
 * each request, a log of every committed row change to tell whether a request wrote
 * anything, and the checks on a GraphQL error body.
 *
 * Bounded by default (CI): each file stays under 90 s on two cores. `FUZZ_RUNS=<n>` gives
 * every property n runs (`npm run fuzz` sets 20000), `FUZZ_SEED=<n>` replays a run
 * (fast-check prints the seed and the counterexample's path on failure, and
 * `FUZZ_PATH=<path>` with the same seed replays only that counterexample).
 */

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`${name} must be an integer, not ${raw}`);
  return value;
}

/** `FUZZ_RUNS`: the long, on-demand run. Unset: the bounded run for CI. */
export const FUZZ_RUNS = envInt('FUZZ_RUNS');
export const LONG_RUN = FUZZ_RUNS !== undefined;

/** The longest any single request may take to be answered (the "never longer than" bound). */
export const BOUND_MS = envInt('FUZZ_BOUND_MS') ?? 2000;

/**
 * Longest chain of fragments that each spread the next twice. Exponential walks over such a
 * chain are a known bug class: in the bounded run the chain is capped so that one such walk
 * alone cannot hang CI (2^14 visits take milliseconds); the long run goes far enough
 * (2^24 visits: seconds) for the time bound to catch an exponential walk.
 */
export const MAX_FRAGMENT_CHAIN = envInt('FUZZ_MAX_FRAGMENT_CHAIN') ?? (LONG_RUN ? 24 : 14);

const DEFAULT_BUDGET_MS = 25_000;

/** A property's wall-clock budget: `budgetMs` in CI; in the long run, up to 400 ms a run. */
function budgetFor(defaultRuns: number, budgetMs: number): number {
  return LONG_RUN ? Math.max(budgetMs, (FUZZ_RUNS ?? defaultRuns) * 400) : budgetMs;
}

/** Jest's timeout for a test running one property: its budget, shrinking and setup. */
export function fuzzTimeout(defaultRuns: number, budgetMs = DEFAULT_BUDGET_MS): number {
  return budgetFor(defaultRuns, budgetMs) + 90_000;
}

/**
 * fast-check parameters for one property. `defaultRuns` is its share of the bounded run;
 * with FUZZ_RUNS each property gets that many runs. `examples` run first, every time. A wall-clock budget ends a property that
 * is running long (reported as a pass with the runs it did, printed) and caps shrinking after
 * a failure (the failure is still reported, with the smallest counterexample found so far).
 */
export function fuzzParameters<T>(
  name: string,
  defaultRuns: number,
  options: { budgetMs?: number; examples?: T[] } = {},
): fc.Parameters<T> {
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const seed = envInt('FUZZ_SEED') ?? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const numRuns = FUZZ_RUNS ?? defaultRuns;
  const path = process.env['FUZZ_PATH'];
  const budget = budgetFor(defaultRuns, budgetMs);
  const started = Date.now();
  return {
    seed,
    numRuns,
    ...(path ? { path } : {}),
    ...(options.examples ? { examples: options.examples } : {}),
    plugins: [
      fc.interruptAfterTimeLimit(budget),
      () => ({
        onAllRunsComplete: (details: fc.RunDetails<T>) => {
          const seconds = ((Date.now() - started) / 1000).toFixed(1);
          const how = details.failed
            ? `FAILED after ${details.numShrinks} shrinks`
            : details.interrupted
              ? 'stopped by its time budget'
              : 'passed';
          console.info(
            `[fuzz] ${name}: ${details.numRuns}/${numRuns} runs in ${seconds} s, ${how}, seed ${seed}`,
          );
        },
      }),
    ],
  } as fc.Parameters<T>;
}

// ---------------------------------------------------------------------------------------
// HTTP

export interface RawRequest {
  method: string;
  /** Path and query string, sent as is. */
  path: string;
  /** A header given as an array is sent as that many header lines (duplicate headers). */
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: unknown;
  ms: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/**
 * Sends exactly these bytes and headers (node's http, not supertest: duplicate headers,
 * any content type, a body that is not what the content type says), and times the answer.
 * A request not answered within `timeoutMs` rejects.
 */
export function send(
  baseUrl: string,
  request: RawRequest,
  timeoutMs = BOUND_MS * 3,
): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: request.method,
        path: request.path,
        headers: request.headers,
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json,
            ms: performance.now() - started,
          });
        });
      },
    );
    req.setTimeout(timeoutMs, () => {
      req.destroy(new Error(`no answer within ${timeoutMs} ms`));
    });
    req.on('error', reject);
    if (request.body !== undefined) req.write(request.body);
    req.end();
  });
}

/** The server still answers its liveness probe, within the bound. */
export async function assertHealthy(baseUrl: string): Promise<void> {
  const res = await send(baseUrl, { method: 'GET', path: '/healthz' });
  if (res.status !== 200 || res.ms > BOUND_MS) {
    throw new Error(`/healthz answered ${res.status} in ${res.ms.toFixed(0)} ms`);
  }
}

/** Waits until a CPU-bound request the client gave up on has finished on the server. */
export async function settle(baseUrl: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    try {
      const res = await send(baseUrl, { method: 'GET', path: '/healthz' }, 1000);
      if (res.status === 200) return;
    } catch {
      // still busy
    }
  }
}

// ---------------------------------------------------------------------------------------
// What was written

/** Tables left out: the migrations' own bookkeeping, and the log of writes itself. */
const NOT_DATA = new Set(['migrations', 'typeorm_metadata', 'fuzz_row_writes']);

/** A point in the log of writes. */
export type Mark = number;

export interface WriteLog {
  /** Where the log stands now. */
  mark(): Promise<Mark>;
  /** The tables with a row inserted, updated or deleted (and committed) since `mark`. */
  since(mark: Mark): Promise<string[]>;
}

/**
 * Records every committed row change of every table of this test database: a row trigger on
 * each table appends the table's name to `fuzz_row_writes` (an append, so no lock is shared
 * between writers; a rolled-back change leaves no entry). Asking "what did this request
 * write?" then costs one indexed query however large the tables grow, where fingerprinting
 * every row grew with the run. Only the fuzz file's own database is instrumented.
 */
export async function writeLog(dataSource: DataSource): Promise<WriteLog> {
  const tables = (
    (await dataSource.query(
      `SELECT table_name FROM information_schema.tables
       WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    )) as Array<{ table_name: string }>
  )
    .map((r) => r.table_name)
    .filter((name) => !NOT_DATA.has(name));
  await dataSource.query(
    `CREATE TABLE fuzz_row_writes (id bigserial PRIMARY KEY, table_name text NOT NULL)`,
  );
  await dataSource.query(
    `CREATE FUNCTION fuzz_record_write() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       INSERT INTO fuzz_row_writes (table_name) VALUES (TG_TABLE_NAME);
       RETURN NULL;
     END $$`,
  );
  for (const name of tables) {
    await dataSource.query(
      `CREATE TRIGGER fuzz_record_write AFTER INSERT OR UPDATE OR DELETE ON "${name}"
       FOR EACH ROW EXECUTE FUNCTION fuzz_record_write()`,
    );
  }
  // Waits (at most ~0.5 s) until no other session of this database is running a statement or
  // holding a transaction open: a write still on its way lands before the mark, not after.
  const quiesce = async () => {
    for (let i = 0; i < 50; i++) {
      const [busy] = (await dataSource.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND state IN ('active', 'idle in transaction')`,
      )) as Array<{ n: number }>;
      if (busy!.n === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return {
    async mark() {
      await quiesce();
      const [row] = (await dataSource.query(
        `SELECT coalesce(max(id), 0)::text AS id FROM fuzz_row_writes`,
      )) as Array<{ id: string }>;
      return Number(row!.id);
    },
    async since(mark) {
      await quiesce();
      const rows = (await dataSource.query(
        `SELECT DISTINCT table_name FROM fuzz_row_writes WHERE id > $1 ORDER BY table_name`,
        [mark],
      )) as Array<{ table_name: string }>;
      return rows.map((r) => r.table_name);
    },
  };
}

// ---------------------------------------------------------------------------------------
// GraphQL responses

export const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

export interface GraphQLErrorLike {
  message?: unknown;
  path?: unknown;
  extensions?: { code?: unknown };
}

/** Problems with a GraphQL response's errors: an unknown or missing code, a masked 500. */
export function errorProblems(errors: unknown): string[] {
  if (errors === undefined) return [];
  if (!Array.isArray(errors)) return ['errors is not a list'];
  const problems: string[] = [];
  for (const error of errors as GraphQLErrorLike[]) {
    const code = error?.extensions?.code;
    if (code === 'INTERNAL_SERVER_ERROR') {
      problems.push(
        error.message === 'Internal server error'
          ? 'an INTERNAL_SERVER_ERROR'
          : `an INTERNAL_SERVER_ERROR with its message unmasked: ${clip(error.message, 200)}`,
      );
    } else if (typeof code !== 'string' || !KNOWN_CODES.has(code)) {
      problems.push(`an error without a code of the closed list: ${JSON.stringify(error)}`);
    }
    if (
      typeof error?.message === 'string' &&
      /\n\s+at |QueryFailedError|node_modules/.test(error.message)
    ) {
      problems.push(`an error leaking internals: ${JSON.stringify(error.message)}`);
    }
  }
  return problems;
}

/**
 * Gives a generated value a short printed form: fast-check prints the counterexample, and a
 * 100 KB body would bury the report.
 */
export function printedAs<T extends object>(value: T, max = 1500): T {
  Object.defineProperty(value, fc.toStringMethod, { value: () => clip(value, max) });
  return value;
}

/**
 * `FUZZ_COLLECT=1`: instead of stopping at the first failure, record every failure, keep the
 * shortest example of each kind, and report them all at the end (a survey of what breaks).
 */
export const COLLECT = process.env['FUZZ_COLLECT'] === '1';

export class Findings {
  private readonly byKind = new Map<string, { example: string; count: number }>();

  /** Fails now, or (FUZZ_COLLECT=1) records the failure under its kind. */
  fail(kinds: string[], example: string): void {
    if (!COLLECT) throw new Error(example);
    for (const kind of kinds) {
      const seen = this.byKind.get(kind);
      if (!seen) this.byKind.set(kind, { example, count: 1 });
      else {
        seen.count += 1;
        if (example.length < seen.example.length) seen.example = example;
      }
    }
  }

  /** Throws a report of every kind recorded. */
  report(): void {
    if (this.byKind.size === 0) return;
    const lines = [...this.byKind.entries()].map(
      ([kind, { example, count }]) => `=== ${kind} (${count}×)\n${example}`,
    );
    throw new Error(`${this.byKind.size} kinds of failure:\n${lines.join('\n\n')}`);
  }
}

/** A failure's kind: the broken property and the answer, with numbers and quotes blurred. */
export function failureKind(property: string, detail: string): string {
  const blurred = detail
    .replace(/"[^"]*"/g, '"…"')
    .replace(/\d+/g, 'N')
    .slice(0, 200);
  return `${property} ${blurred}`;
}

/** Shortens a request or response for a failure message. */
export function clip(value: unknown, max = 3000): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/** The promise's value, or undefined when it takes longer than `ms` (the timer is cleared). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
