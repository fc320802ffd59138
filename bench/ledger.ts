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
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { signToken } from '../src/auth';
import { createDataSource } from '../src/db';
import { Ledger } from '../src/ledger';
import { requestHash } from '../src/ledger/idempotency';
import { MOVE_SQL, moveParameters } from '../src/ledger/movements';
import {
  benchEntry,
  barePool,
  CALLERS,
  closedLoop,
  compare,
  httpLoad,
  POOL_SIZE,
  prepareDatabase,
  readBody,
  Reporter,
  ROUNDS,
  SECONDS,
  serveBare,
  serveTally,
  spawnServer,
  stopChildren,
} from './common';

const USERS = 10_000;
/** One fresh hot account per measured run: a hot row's dead versions would otherwise slow
 * every later run (we measured 465/s falling to 121/s over four runs on one row). */
const HOT_ACCOUNTS = 40;
let hotRuns = 0;
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

// ---------------------------------------------------------------------------------------
// The servers under HTTP load (child processes).

function serveBareLedger(url: string): Promise<number> {
  const pool = barePool(url);
  return serveBare(async (req) => {
    const body = JSON.parse((await readBody(req)).toString('utf8')) as {
      variables: { input: { userId: string; idempotencyKey: string } };
    };
    const { userId, idempotencyKey } = body.variables.input;
    const moved = await bareDeduct(pool, userId, idempotencyKey);
    return {
      status: 200,
      body: JSON.stringify({
        data: { deductCredits: { balance: moved.balance, transaction: { id: moved.id } } },
      }),
    };
  });
}

const DEDUCT =
  'mutation Deduct($input: DeductCreditsInput!) { deductCredits(input: $input) { balance transaction { id } } }';

function deductRequest(pickUser: () => string, token: string) {
  return () => ({
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: DEDUCT,
      variables: {
        input: {
          userId: pickUser(),
          amount: 1,
          description: 'bench',
          idempotencyKey: randomUUID(),
        },
      },
    }),
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  process.stdout.write(
    `bench:ledger: ${CALLERS} concurrent callers, pool ${POOL_SIZE}, ${SECONDS} s per run, median pair of ${ROUNDS}\n\n`,
  );
  const reporter = new Reporter();
  const db = await prepareDatabase(async (ds) => {
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
  });
  const children = [];
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
      reporter.report('module', scenario, result, 0.8);
    }
    await pool.end();

    // (2) GraphQL over HTTP against a bare node:http server, both in child processes.
    if (ONLY !== 'module') {
      const bare = await spawnServer(__filename, 'serve-bare', db.url);
      children.push(bare.child);
      const tally = await spawnServer(__filename, 'serve-tally', db.url);
      children.push(tally.child);
      const token = await signToken({ secret: JWT_SECRET, subject: 'bench', role: 'service' });
      for (const [scenario, picker] of SCENARIOS) {
        const result = await compare(
          (s) => httpLoad(bare.port, '/graphql', deductRequest(picker(), token), s),
          (s) => httpLoad(tally.port, '/graphql', deductRequest(picker(), token), s),
        );
        reporter.report('http', scenario, result, 0.5);
      }
    }

    // Integrity after everything: every balance still equals the sum of its transactions.
    const drift = await ledger.drift();
    process.stdout.write(`drift after the run: ${drift.length} user(s)\n`);
    if (drift.length > 0) reporter.failures++;
    await ds.destroy();
  } finally {
    await stopChildren(children);
    await db.cleanup();
  }
  reporter.finish(started);
}

benchEntry(
  {
    'serve-bare': serveBareLedger,
    'serve-tally': (url) => serveTally(url, { JWT_SECRET }),
  },
  main,
);
