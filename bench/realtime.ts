/**
 * `npm run bench:realtime`: SUBSCRIBERS (default 1,000) graphql-ws connections spread over
 * 100 users, each subscribed to `balanceChanged`, while deductions for random users of those
 * 100 run at a steady BENCH_RATE (default 200 a second, so 2,000 deliveries a second).
 * Latency from commit to client receipt (the transaction's createdAt, stamped by PostgreSQL
 * inside the committing statement, to the client's clock: one machine, one clock), p50/p99,
 * and resident memory per idle connection (the server's RSS after a full GC, with the
 * connections open and subscribed, less before them, over their number).
 *
 * Baseline in the same run: a bare `ws` server holding the same number of connections per
 * user, broadcasting payloads of the same size, triggered at the same rate over HTTP; its
 * latency runs from its own receipt of the trigger to the client's receipt.
 * Targets: p99 < 100 ms at 1,000 subscribers, under 50 KB per idle connection.
 *
 * Options as bench/ledger.ts (BENCH_DATABASE_URL, BENCH_SECONDS, BENCH_ROUNDS), plus
 * BENCH_SUBSCRIBERS and BENCH_RATE.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket, { WebSocketServer } from 'ws';
import { signToken } from '../src/auth';
import { DEV_JWT_SECRET } from '../src/config';
import {
  benchEntry,
  childMemory,
  compare,
  openLoop,
  percentile,
  prepareDatabase,
  readBody,
  Reporter,
  ROUNDS,
  SECONDS,
  serveTally,
  spawnServer,
  stopChildren,
  type Figures,
} from './common';

const SUBSCRIBERS = Number(process.env['BENCH_SUBSCRIBERS'] ?? 1000);
const USERS = 100;
const RATE = Number(process.env['BENCH_RATE'] ?? 200);
const userOf = (i: number) => `rt-${i % USERS}`;

/** Receipts of one run: latency of each delivery, and how many arrived. */
class Receipts {
  latencies: number[] = [];
  reset(): void {
    this.latencies = [];
  }
  record(sentAtMs: number): void {
    this.latencies.push(Date.now() - sentAtMs);
  }
}

/**
 * One measured run: triggers at RATE for `seconds` through `trigger`, then waits for the
 * last deliveries. Errors: deliveries missing (each accepted trigger owes one per subscriber
 * of its user) and triggers refused.
 */
async function measured(
  receipts: Receipts,
  seconds: number,
  trigger: (seconds: number) => Promise<Figures & { accepted: number }>,
): Promise<Figures> {
  receipts.reset();
  const started = performance.now();
  const sent = await trigger(seconds);
  const expected = sent.accepted * (SUBSCRIBERS / USERS);
  const deadline = performance.now() + 3000;
  while (receipts.latencies.length < expected && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const elapsed = (performance.now() - started) / 1000;
  const sorted = [...receipts.latencies].sort((a, b) => a - b);
  return {
    perSecond: sorted.length / elapsed,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors: Math.max(0, expected - sorted.length) + sent.errors,
  };
}

// ---- the bare baseline: a ws server broadcasting what an HTTP trigger posts ----

async function serveBareBroadcast(): Promise<number> {
  const byUser = new Map<string, Set<WebSocket>>();
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    void readBody(req).then((body) => {
      const receivedAt = Date.now();
      const text = body.toString('utf8');
      const user = (
        JSON.parse(text) as { payload: { data: { balanceChanged: { userId: string } } } }
      ).payload.data.balanceChanged.userId;
      // The same bytes each subscriber of Tally gets, stamped with this server's receipt.
      const message = text.replace('"SENT_AT"', String(receivedAt));
      for (const socket of byUser.get(user) ?? []) socket.send(message);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  const wss = new WebSocketServer({ server: http, path: '/ws' });
  wss.on('connection', (socket, req) => {
    const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? '';
    let set = byUser.get(user);
    if (!set) byUser.set(user, (set = new Set()));
    set.add(socket);
    socket.on('close', () => set.delete(socket));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return (http.address() as AddressInfo).port;
}

/** What a Tally subscriber receives for one deduction, as the bare server sends it. */
function barePayload(user: string): string {
  return JSON.stringify({
    id: '1',
    type: 'next',
    payload: {
      data: {
        balanceChanged: {
          userId: user,
          balance: 9_999_000,
          transaction: {
            id: randomUUID(),
            type: 'CONSUMPTION',
            amount: -1,
            balanceAfter: 9_999_000,
            description: 'bench render',
            createdAt: 'SENT_AT',
          },
        },
      },
    },
  });
}

// ---- clients ----

const SUBSCRIPTION = `subscription { balanceChanged { userId balance transaction { id type amount balanceAfter description createdAt } } }`;

async function connectTally(port: number, receipts: Receipts): Promise<Client[]> {
  const clients: Client[] = [];
  const ready: Array<Promise<void>> = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const token = await signToken({ secret: DEV_JWT_SECRET, subject: userOf(i), role: 'user' });
    const client = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: true,
    });
    ready.push(
      new Promise<void>((resolve) => {
        client.on('connected', () => resolve());
      }),
    );
    client.subscribe(
      { query: SUBSCRIPTION },
      {
        next: (result) => {
          const at = (result.data as { balanceChanged: { transaction: { createdAt: string } } })
            .balanceChanged.transaction.createdAt;
          receipts.record(Date.parse(at));
        },
        error: (error) => process.stderr.write(`subscription failed: ${JSON.stringify(error)}\n`),
        complete: () => undefined,
      },
    );
    clients.push(client);
  }
  await Promise.all(ready);
  return clients;
}

async function connectBare(port: number, receipts: Receipts): Promise<WebSocket[]> {
  return Promise.all(
    Array.from(
      { length: SUBSCRIBERS },
      (_, i) =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?user=${userOf(i)}`);
          ws.on('message', (data) => {
            const event = JSON.parse(data.toString()) as {
              payload: { data: { balanceChanged: { transaction: { createdAt: number } } } };
            };
            receipts.record(event.payload.data.balanceChanged.transaction.createdAt);
          });
          ws.once('open', () => resolve(ws));
          ws.once('error', reject);
        }),
    ),
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  process.stdout.write(
    `bench:realtime: ${SUBSCRIBERS} subscribers over ${USERS} users, ${RATE} movements/s, ${SECONDS} s per run, median pair of ${ROUNDS}\n\n`,
  );
  const reporter = new Reporter();
  const db = await prepareDatabase(async (ds) => {
    await ds.query(
      `INSERT INTO user_profiles (id, credits) SELECT 'rt-' || g, 10000000 FROM generate_series(0, $1 - 1) g`,
      [USERS],
    );
    await ds.query(
      `INSERT INTO credit_transactions (user_id, type, amount, balance_after, description)
       SELECT 'rt-' || g, 'ADJUSTMENT', 10000000, 10000000, 'bench seed' FROM generate_series(0, $1 - 1) g`,
      [USERS],
    );
  });
  const children = [];
  try {
    const tally = await spawnServer(__filename, 'serve-tally', db.url, ['--expose-gc']);
    children.push(tally.child);
    const bare = await spawnServer(__filename, 'serve-bare', db.url, ['--expose-gc']);
    children.push(bare.child);
    const service = await signToken({ secret: DEV_JWT_SECRET, subject: 'bench', role: 'service' });

    const tallyReceipts = new Receipts();
    const bareReceipts = new Receipts();
    const before = { tally: await childMemory(tally.child), bare: await childMemory(bare.child) };
    const tallyClients = await connectTally(tally.port, tallyReceipts);
    const bareClients = await connectBare(bare.port, bareReceipts);
    // Let every subscription register, then weigh the idle connections.
    await new Promise((r) => setTimeout(r, 1000));
    const after = { tally: await childMemory(tally.child), bare: await childMemory(bare.child) };
    const perConnection = (side: 'tally' | 'bare') =>
      (after[side].rss - before[side].rss) / 1024 / SUBSCRIBERS;

    let n = 0;
    const deduction = () => {
      const user = `rt-${n++ % USERS}`;
      return {
        body: JSON.stringify({
          query: `mutation($input: DeductCreditsInput!) { deductCredits(input: $input) { balance } }`,
          variables: {
            input: {
              userId: user,
              amount: 1,
              description: 'bench render',
              idempotencyKey: randomUUID(),
            },
          },
        }),
        headers: { 'content-type': 'application/json', authorization: `Bearer ${service}` },
      };
    };
    let m = 0;
    const publish = () => {
      const user = `rt-${m++ % USERS}`;
      return { body: barePayload(user), headers: { 'content-type': 'application/json' } };
    };
    const result = await compare(
      (s) => measured(bareReceipts, s, (t) => openLoop(bare.port, '/publish', publish, t, RATE)),
      (s) =>
        measured(tallyReceipts, s, (t) => openLoop(tally.port, '/graphql', deduction, t, RATE)),
    );
    reporter.report(
      'realtime',
      `${SUBSCRIBERS} subscribers, ${RATE} movements/s`,
      result,
      0.95,
      `\n  tally p99 ${result.subject.p99.toFixed(1)} ms commit → receipt (target < 100 ms: ${result.subject.p99 < 100 ? 'meets' : 'ABOVE'})` +
        `\n  memory per idle connection: tally ${perConnection('tally').toFixed(1)} KB (target < 50 KB: ${perConnection('tally') < 50 ? 'meets' : 'ABOVE'}), bare ws ${perConnection('bare').toFixed(1)} KB`,
    );
    if (perConnection('tally') >= 50 || result.subject.p99 >= 100) {
      process.stdout.write('a realtime target was missed: see above\n');
    }
    await Promise.all(tallyClients.map((c) => c.dispose()));
    for (const ws of bareClients) ws.close();
  } finally {
    await stopChildren(children);
    await db.cleanup();
  }
  reporter.finish(started);
}

benchEntry(
  {
    'serve-bare': () => serveBareBroadcast(),
    'serve-tally': (url) =>
      serveTally(url, {
        WS_MAX_CONNECTIONS: String(SUBSCRIBERS * 2),
        WS_MAX_CONNECTIONS_PER_USER: String(SUBSCRIBERS),
        // Every subscriber connects from 127.0.0.1, all at once.
        WS_MAX_CONNECTIONS_PER_ADDRESS: String(SUBSCRIBERS * 2),
        WS_MAX_PENDING_CONNECTIONS: String(SUBSCRIBERS * 2),
        WS_MAX_PENDING_PER_ADDRESS: String(SUBSCRIBERS * 2),
        WS_BUFFER_EVENTS: '1000',
      }),
  },
  main,
);
