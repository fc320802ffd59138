/**
 * `npm run bench:ledger`: deductions per second and p50/p99 latency at 64 concurrent callers,
 * for (a) random users among 10,000 and (b) one hot user, each against a baseline measured
 * in the same run (the machine is shared and noisy: only the ratios mean much).
 *
 *   module: Ledger.deduct (idempotency key, conditional UPDATE, transaction row) against the
 *           same SQL transaction issued by a bare `pg` pool of the same size.   target ≥ 0.8
 *   http:   the deductCredits mutation over HTTP (Apollo, auth, validation) against a bare
 *           node:http server running the same SQL transaction per POST.        target ≥ 0.5
 *
 * Database: BENCH_DATABASE_URL or DATABASE_URL (a throwaway database is created there), else
 * an embedded PostgreSQL in a temp folder. BENCH_SECONDS sets each measured run (default 4),
 * BENCH_ROUNDS the baseline/subject pairs (default 3; the median pair is reported). Servers
 * under load run as child processes so the load generator does not share their event loop.
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import inspector from 'node:inspector';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client, Pool } from 'pg';
import { signToken } from '../src/auth';
import { loadConfig } from '../src/config';
import { createDataSource, startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db';
import { Ledger } from '../src/ledger';
import { requestHash } from '../src/ledger/idempotency';
import { MOVE_SQL, moveParameters } from '../src/ledger/movements';
import { silentLogger } from '../src/observability';
import { startTally } from '../src/server';

const CALLERS = 64;
const POOL_SIZE = 20;
const USERS = 10_000;
/** One fresh hot account per measured run: a hot row's dead versions would otherwise slow
 * every later run (we measured 465/s falling to 121/s over four runs on one row). */
const HOT_ACCOUNTS = 40;
let hotRuns = 0;
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
/** BENCH_ONLY=module or http runs one layer (for a quicker look). */
const ONLY = process.env['BENCH_ONLY'];
const JWT_SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';

const randomUser = () => `bench-${Math.floor(Math.random() * USERS)}`;
const hotUser = () => {
  const id = `bench-hot-${hotRuns++ % HOT_ACCOUNTS}`;
  return () => id;
};
const randomUsers = () => randomUser;
/** BENCH_SCENARIO=random or hot runs one scenario. */
const SCENARIOS = (
  [
    ['random users of 10,000', randomUsers],
    ['one hot user', hotUser],
  ] as const
).filter(([name]) => {
  const only = process.env['BENCH_SCENARIO'];
  return !only || (only === 'hot' ? name === 'one hot user' : name !== 'one hot user');
});

// ---------------------------------------------------------------------------------------
// The baseline: the ledger's deduction, statement for statement, on a bare pg client.

/**
 * The ledger's own statement (imported, so the baseline cannot drift from it) on a bare pg
 * pool: one call of tally_move, which claims the key, moves the balance, appends the row and
 * stores the result, as its own transaction.
 */
async function bareDeduct(
  pool: Pool,
  userId: string,
  key: string,
): Promise<{ id: string; balance: number }> {
  const request = {
    userId,
    type: 'CONSUMPTION',
    delta: -1,
    description: 'bench',
    orderId: null,
    subscriptionId: null,
    periodStart: null,
  };
  const moved = await pool.query<{ transaction_id: string; balance: number }>(
    MOVE_SQL,
    moveParameters(
      { userId, type: 'CONSUMPTION', delta: -1, description: 'bench', mayGoNegative: false },
      { key, operation: 'deduct', requestHash: requestHash('deduct', request) },
    ),
  );
  const row = moved.rows[0]!;
  return { id: row.transaction_id, balance: row.balance };
}

function barePool(url: string): Pool {
  return new Pool({
    connectionString: url,
    max: POOL_SIZE,
    options: '-c default_transaction_isolation=read\\ committed',
  });
}

// ---------------------------------------------------------------------------------------
// Child processes: the servers under HTTP load.

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function serveBare(url: string): Promise<number> {
  const pool = barePool(url);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      try {
        const body = JSON.parse(await readBody(req)) as {
          variables: { input: { userId: string; idempotencyKey: string } };
        };
        const { userId, idempotencyKey } = body.variables.input;
        const moved = await bareDeduct(pool, userId, idempotencyKey);
        const json = JSON.stringify({
          data: { deductCredits: { balance: moved.balance, transaction: { id: moved.id } } },
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end(json);
      } catch (error) {
        res.writeHead(500).end(String(error));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function serveTally(url: string): Promise<number> {
  const config = loadConfig({
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    DATABASE_POOL_SIZE: String(POOL_SIZE),
    JWT_SECRET,
    LOG_LEVEL: 'warn',
  });
  const server = await startTally({ config });
  return server.port;
}

/** Starts this file as a child in `role`, and resolves with the port it listens on. */
async function spawnServer(
  role: 'serve-bare' | 'serve-tally',
  url: string,
): Promise<{
  child: ChildProcess;
  port: number;
}> {
  const child = fork(__filename, [role, url], {
    execArgv: ['-r', path.join(__dirname, 'register.js')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
  });
  return { child, port };
}

// ---------------------------------------------------------------------------------------
// Measurement.

interface Figures {
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CALLERS closed-loop callers running `op` for `seconds`. */
async function closedLoop(op: () => Promise<unknown>, seconds: number): Promise<Figures> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await op();
          latencies.push(performance.now() - t0);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}

async function httpLoad(
  port: number,
  pickUser: () => string,
  token: string,
  seconds: number,
): Promise<Figures> {
  const query =
    'mutation Deduct($input: DeductCreditsInput!) { deductCredits(input: $input) { balance transaction { id } } }';
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CALLERS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/graphql',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        setupRequest: (req) => ({
          ...req,
          body: JSON.stringify({
            query,
            variables: {
              input: {
                userId: pickUser(),
                amount: 1,
                description: 'bench',
                idempotencyKey: randomUUID(),
              },
            },
          }),
        }),
      },
    ],
  });
  return {
    perSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

/**
 * Alternates baseline and subject ROUNDS times, each pair back to back, and keeps the pair
 * whose ratio is the median: a noisy neighbour then spoils one pair, not the verdict.
 */
async function compare(
  baseline: (seconds: number) => Promise<Figures>,
  subject: (seconds: number) => Promise<Figures>,
): Promise<{ baseline: Figures; subject: Figures }> {
  // Warm both up (the JIT needs a few thousand requests through Apollo's paths).
  await baseline(2);
  await subject(2);
  const pairs: Array<{ baseline: Figures; subject: Figures; ratio: number }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate who goes first: a hot row's dead versions pile up during a run, which
    // would otherwise always slow the second of the pair.
    let b: Figures;
    let s: Figures;
    if (round % 2 === 0) {
      b = await baseline(SECONDS);
      s = await subject(SECONDS);
    } else {
      s = await subject(SECONDS);
      b = await baseline(SECONDS);
    }
    const ratio = s.perSecond / b.perSecond;
    process.stdout.write(
      `  round ${round + 1}: baseline ${b.perSecond.toFixed(0)}/s, tally ${s.perSecond.toFixed(0)}/s, ratio ${ratio.toFixed(2)}\n`,
    );
    pairs.push({ baseline: b, subject: s, ratio });
  }
  pairs.sort((x, y) => x.ratio - y.ratio);
  return pairs[Math.floor((pairs.length - 1) / 2)]!;
}

const rows: string[] = [];
let failures = 0;

function report(
  layer: string,
  scenario: string,
  result: { baseline: Figures; subject: Figures },
  target: number,
): void {
  const ratio = result.subject.perSecond / result.baseline.perSecond;
  const line = (name: string, f: Figures) =>
    `  ${name.padEnd(9)} ${f.perSecond.toFixed(0).padStart(7)}/s  p50 ${f.p50.toFixed(1).padStart(6)} ms  p99 ${f.p99.toFixed(1).padStart(6)} ms  errors ${f.errors}`;
  const verdict = ratio >= target ? 'meets' : 'BELOW';
  const text = [
    `${layer} · ${scenario}`,
    line('baseline', result.baseline),
    line('tally', result.subject),
    `  ratio ${ratio.toFixed(3)} (target ≥ ${target}: ${verdict})`,
  ].join('\n');
  process.stdout.write(`${text}\n\n`);
  rows.push(
    `| ${layer} | ${scenario} | ${result.baseline.perSecond.toFixed(0)} | ${result.subject.perSecond.toFixed(0)} | ${ratio.toFixed(2)} | ${result.subject.p50.toFixed(1)} / ${result.subject.p99.toFixed(1)} |`,
  );
  if (result.baseline.errors + result.subject.errors > 0) failures++;
}

// ---------------------------------------------------------------------------------------

async function prepareDatabase(): Promise<{
  url: string;
  cleanup: () => Promise<void>;
}> {
  let adminUrl = process.env['BENCH_DATABASE_URL'] || process.env['DATABASE_URL'];
  let embedded: EmbeddedPostgres | undefined;
  let dir: string | undefined;
  if (!adminUrl) {
    dir = mkdtempSync(path.join(tmpdir(), 'tally-bench-pg-'));
    chmodSync(dir, 0o755);
    embedded = await startEmbeddedPostgres({
      dataDir: path.join(dir, 'data'),
      database: 'postgres',
      logger: silentLogger,
    });
    adminUrl = embedded.url;
  }
  const name = `tally_bench_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const target = new URL(adminUrl);
  target.pathname = `/${name}`;
  const url = target.toString();

  const ds = createDataSource({ url, poolSize: 2 });
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  // Balances large enough that no deduction is refused; each seeded with its transaction.
  await ds.query(
    `INSERT INTO user_profiles (id, credits)
     SELECT 'bench-' || g, 1000000 FROM generate_series(0, $1 - 1) g
     UNION ALL SELECT 'bench-hot-' || g, 100000000 FROM generate_series(0, $2 - 1) g`,
    [USERS, HOT_ACCOUNTS],
  );
  await ds.query(
    `INSERT INTO credit_transactions (user_id, type, amount, balance_after, description)
     SELECT id, 'ADJUSTMENT', credits, credits, 'bench seed' FROM user_profiles`,
  );
  await ds.query('ANALYZE');
  await ds.destroy();

  return {
    url,
    async cleanup() {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
      await embedded?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  process.stdout.write(
    `bench:ledger: ${CALLERS} concurrent callers, pool ${POOL_SIZE}, ${SECONDS} s per run, median pair of ${ROUNDS}\n\n`,
  );
  const db = await prepareDatabase();
  const children: ChildProcess[] = [];
  try {
    // (1) The ledger module against bare pg, in this process.
    const ds = createDataSource({ url: db.url, poolSize: POOL_SIZE });
    await ds.initialize();
    const ledger = new Ledger(ds);
    const pool = barePool(db.url);
    for (const [scenario, picker] of ONLY === 'http' ? [] : SCENARIOS) {
      const result = await compare(
        (s) => {
          const pick = picker();
          return closedLoop(() => bareDeduct(pool, pick(), randomUUID()), s);
        },
        (s) => {
          const pick = picker();
          return closedLoop(
            () =>
              ledger.deduct({
                userId: pick(),
                amount: 1,
                description: 'bench',
                idempotencyKey: randomUUID(),
              }),
            s,
          );
        },
      );
      report('module', scenario, result, 0.8);
    }
    await pool.end();

    // (2) GraphQL over HTTP against a bare node:http server, both in child processes.
    const bare = ONLY === 'module' ? undefined : await spawnServer('serve-bare', db.url);
    const tally = ONLY === 'module' ? undefined : await spawnServer('serve-tally', db.url);
    if (bare && tally) children.push(bare.child, tally.child);
    const token = await signToken({ secret: JWT_SECRET, subject: 'bench', role: 'service' });
    for (const [scenario, picker] of bare && tally ? SCENARIOS : []) {
      const result = await compare(
        (s) => httpLoad(bare!.port, picker(), token, s),
        (s) => httpLoad(tally!.port, picker(), token, s),
      );
      report('http', scenario, result, 0.5);
    }

    // Integrity after everything: every balance still equals the sum of its transactions.
    const drift = await ledger.drift();
    process.stdout.write(`drift after the run: ${drift.length} user(s)\n`);
    if (drift.length > 0) failures++;
    await ds.destroy();
  } finally {
    // A clean exit, so a CPU profile gets written; then make sure.
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              child.kill('SIGKILL');
              resolve();
            }, 5000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.send('stop');
          }),
      ),
    );
    await db.cleanup();
  }
  process.stdout.write(
    `\n| layer | scenario | baseline/s | tally/s | ratio | tally p50 / p99 ms |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
  );
  process.stdout.write(`\ntook ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  if (failures > 0) {
    process.stdout.write('errors or drift during the run: see above\n');
    process.exitCode = 1;
  }
}

const role = process.argv[2];
if (role === 'serve-bare' || role === 'serve-tally') {
  const url = process.argv[3]!;
  // BENCH_PROFILE=file.cpuprofile records the Tally server's CPU from start to stop (open it
  // in Chrome DevTools): where a request's time goes.
  const profileTo = role === 'serve-tally' ? process.env['BENCH_PROFILE'] : undefined;
  const session = profileTo ? new inspector.Session() : undefined;
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) =>
      session!.post(method, (error, result) => (error ? reject(error) : resolve(result))),
    );
  process.on('message', (message) => {
    if (message !== 'stop') return;
    if (!session) process.exit(0);
    void post('Profiler.stop').then((result) => {
      writeFileSync(profileTo!, JSON.stringify((result as { profile: unknown }).profile));
      process.exit(0);
    });
  });
  (role === 'serve-bare' ? serveBare(url) : serveTally(url)).then(
    async (port) => {
      if (session) {
        session.connect();
        await post('Profiler.enable');
        await post('Profiler.start');
      }
      process.send?.({ port });
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
} else {
  main().catch((error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
