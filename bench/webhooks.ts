/**
 * `npm run bench:webhooks`: signed `checkout.completed` deliveries, each for a distinct
 * pending order, at 64 concurrent connections: acknowledgements per second and p50/p99
 * latency, against a baseline measured in the same run: a bare node:http server that checks
 * the same signature and completes the order in one pg transaction (event row, order row,
 * the ledger's movement call). Targets: p99 < 50 ms and ≥ 0.3 of the baseline's throughput.
 *
 * Two scenarios. Saturated: 64 connections each sending as soon as its answer arrives, for
 * throughput; there latency is 64 / throughput by Little's law, whatever the code does.
 * Steady: deliveries evenly spaced at BENCH_STEADY_RATE a second (default 250, under both
 * sides' capacity) over up to 64 sockets, for the latency a provider's deliveries see.
 *
 * Database and options as bench/ledger.ts (BENCH_DATABASE_URL, BENCH_SECONDS, BENCH_ROUNDS,
 * BENCH_PROFILE).
 */
import 'reflect-metadata';
import type { Pool } from 'pg';
import { createDataSource } from '../src/db';
import { Ledger } from '../src/ledger';
import { MOVE_SQL, moveParameters } from '../src/ledger/movements';
import { mockSignature } from '../src/providers';
import { hexDigestsEqual, hmacHex, parseSignatureHeader } from '../src/providers/signature';
import {
  benchEntry,
  barePool,
  CALLERS,
  compare,
  httpLoad,
  openLoop,
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

const SECRET = 'bench-webhook-secret-0123456789abcdef';
/** Orders per side: enough for the warm-up and every round at several thousand a second. */
const ORDERS_PER_SIDE = 60_000;
/** Offered deliveries a second in the steady scenario: well under either side's capacity. */
const STEADY_RATE = Number(process.env['BENCH_STEADY_RATE'] ?? 250);

// ---------------------------------------------------------------------------------------
// The baseline: verify, then one transaction doing what completing an order must.

async function bareComplete(pool: Pool, raw: Buffer, signature: string): Promise<number> {
  const { timestamp, digests } = parseSignatureHeader(signature, {
    separator: ',',
    timestampKey: 't',
    digestKey: 'v1',
  });
  const expected = hmacHex(SECRET, Buffer.concat([Buffer.from(`${timestamp}.`), raw]));
  if (!digests.some((d) => hexDigestsEqual(expected, d))) return 401;
  const event = JSON.parse(raw.toString('utf8')) as {
    id: string;
    type: string;
    data: { order_id: string; transaction_id: string };
  };
  const client = await pool.connect();
  try {
    await client.query('START TRANSACTION');
    const recorded = await client.query(
      `INSERT INTO webhook_events (provider, event_id, type, payload) VALUES ('mock', $1, $2, $3)
       ON CONFLICT (provider, event_id) DO NOTHING RETURNING id`,
      [event.id, event.type, raw.toString('utf8')],
    );
    if (recorded.rowCount === 1) {
      const order = await client.query<{ user_id: string; credits: number }>(
        `UPDATE orders SET status = 'COMPLETED', completed_at = now(), provider_transaction_id = $2
         WHERE id = $1 AND status = 'PENDING' RETURNING user_id, credits`,
        [event.data.order_id, event.data.transaction_id],
      );
      const row = order.rows[0];
      if (row) {
        await client.query(
          MOVE_SQL,
          moveParameters({
            userId: row.user_id,
            type: 'PURCHASE',
            delta: row.credits,
            description: 'Purchase: 100 credits',
            mayGoNegative: false,
            orderId: event.data.order_id,
          }),
        );
      }
      await client.query(
        `UPDATE webhook_events SET status = 'PROCESSED', attempts = 1, processed_at = now() WHERE id = $1`,
        [recorded.rows[0].id],
      );
    }
    await client.query('COMMIT');
    return 200;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

function serveBareWebhooks(url: string): Promise<number> {
  const pool = barePool(url);
  return serveBare(async (req) => ({
    status: await bareComplete(
      pool,
      await readBody(req),
      String(req.headers['mock-signature'] ?? ''),
    ),
    body: '{"received":true}',
  }));
}

// ---------------------------------------------------------------------------------------

interface PendingOrder {
  order_id: string;
  checkout_id: string;
}

/** Signed deliveries of checkout.completed, one per order, in order. */
function deliveries(
  orders: PendingOrder[],
): () => { body: string; headers: Record<string, string> } {
  let next = 0;
  return () => {
    const order = orders[next++];
    if (!order) throw new Error('the benchmark ran out of pending orders: raise ORDERS_PER_SIDE');
    const body = JSON.stringify({
      id: `evt_${order.checkout_id.slice(4)}`,
      type: 'checkout.completed',
      created_at: new Date().toISOString(),
      data: {
        checkout_id: order.checkout_id,
        order_id: order.order_id,
        transaction_id: `txn_${order.checkout_id.slice(4)}`,
        amount: 500,
        currency: 'USD',
      },
    });
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'mock-signature': mockSignature(SECRET, body),
      },
    };
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  process.stdout.write(
    `bench:webhooks: ${CALLERS} connections, pool ${POOL_SIZE}, ${SECONDS} s per run, median pair of ${ROUNDS}\n\n`,
  );
  const reporter = new Reporter();
  const db = await prepareDatabase(async (ds) => {
    await ds.query(
      `INSERT INTO user_profiles (id) SELECT 'buyer-' || g FROM generate_series(0, $1 - 1) g`,
      [ORDERS_PER_SIDE * 2],
    );
    // Pending orders for a 100-credit pack, each with its checkout; the first half for the
    // baseline, the second for Tally.
    await ds.query(
      `INSERT INTO orders (user_id, product_id, kind, status, amount_minor, currency, credits, provider, checkout_id)
       SELECT 'buyer-' || g, 'credits-100', 'CREDIT_PACK', 'PENDING', 500, 'USD', 100, 'mock',
              'mck_' || lpad(to_hex(g), 24, '0')
       FROM generate_series(0, $1 - 1) g`,
      [ORDERS_PER_SIDE * 2],
    );
  });
  const children = [];
  try {
    const ds = createDataSource({ url: db.url, poolSize: 2 });
    await ds.initialize();
    const orders: PendingOrder[] = await ds.query(
      `SELECT id AS order_id, checkout_id FROM orders ORDER BY checkout_id`,
    );
    const forBaseline = deliveries(orders.slice(0, ORDERS_PER_SIDE));
    const forTally = deliveries(orders.slice(ORDERS_PER_SIDE));

    const bare = await spawnServer(__filename, 'serve-bare', db.url);
    children.push(bare.child);
    const tally = await spawnServer(__filename, 'serve-tally', db.url);
    children.push(tally.child);
    const result = await compare(
      (s) => httpLoad(bare.port, '/', forBaseline, s),
      (s) => httpLoad(tally.port, '/api/payment/callback', forTally, s),
    );
    const p99Verdict = (p99: number) => (p99 < 50 ? 'meets' : 'ABOVE');
    reporter.report(
      'webhooks',
      'checkout.completed, distinct orders, saturated',
      result,
      0.3,
      `\n  tally p99 ${result.subject.p99.toFixed(1)} ms (target < 50 ms: ${p99Verdict(result.subject.p99)}; at saturation a closed loop of ${CALLERS} waits ${CALLERS}/throughput on average)`,
    );
    // Latency where it is meaningful: at a steady offered rate below capacity, as a
    // provider's deliveries arrive. Both sides must keep up with the rate (ratio ≈ 1).
    const steady = await compare(
      (s) => openLoop(bare.port, '/', forBaseline, s, STEADY_RATE),
      (s) => openLoop(tally.port, '/api/payment/callback', forTally, s, STEADY_RATE),
    );
    reporter.report(
      'webhooks',
      `checkout.completed, steady ${STEADY_RATE}/s offered`,
      steady,
      0.95,
      `\n  tally p99 ${steady.subject.p99.toFixed(1)} ms (target < 50 ms: ${p99Verdict(steady.subject.p99)})`,
    );

    // Integrity: every completed order was credited exactly once, and nothing drifted.
    const [check] = await ds.query(
      `SELECT
         (SELECT count(*) FROM orders WHERE status = 'COMPLETED')::int AS completed,
         (SELECT count(*) FROM credit_transactions WHERE type = 'PURCHASE')::int AS purchases,
         (SELECT count(*) FROM webhook_events WHERE status = 'PROCESSED')::int AS processed`,
    );
    const drift = await new Ledger(ds).drift();
    process.stdout.write(
      `completed orders ${check.completed}, PURCHASE rows ${check.purchases}, events processed ${check.processed}, drift ${drift.length}\n`,
    );
    if (check.completed !== check.purchases || drift.length > 0) reporter.failures++;
    await ds.destroy();
  } finally {
    await stopChildren(children);
    await db.cleanup();
  }
  reporter.finish(started);
}

benchEntry(
  {
    'serve-bare': serveBareWebhooks,
    'serve-tally': (url) =>
      serveTally(url, {
        MOCK_WEBHOOK_SECRET: SECRET,
        RATE_LIMIT_CALLBACK_PER_MINUTE: '1000000',
      }),
  },
  main,
);
