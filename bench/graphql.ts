/**
 * `npm run bench:graphql`: what hostile GraphQL documents cost the server, against a
 * baseline measured in the same run: an anonymous `{ products { id } }` over HTTP. Each
 * attack is sent BENCH_REQUESTS times (default 200), one at a time, its text varied each
 * time (an alias) as an attacker would to miss any document cache:
 *
 * - the fragment chain: `query Q { ...F0 }`, each `Fi` spreading `F(i+1)` twice, n=30
 *   (1.2 KB; 2^30 fields once spread); the old depth rule walked it in 2^n;
 * - 300 copies of one field (6 KB), which graphql's OverlappingFieldsCanBeMerged compares
 *   pairwise;
 * - 400 aliases of `__schema` (20 KB), megabytes of answer before the introspection cap.
 *
 * Prints p50/p99 of each and its ratio to the baseline's p50; a refusal should cost about
 * what a trivial query does. Database as bench/ledger.ts (BENCH_DATABASE_URL).
 */
import 'reflect-metadata';
import { benchEntry, percentile, prepareDatabase, serveTally } from './common';

const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 200);

function fragmentChain(n: number, salt: number): string {
  const fragments = Array.from(
    { length: n },
    (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
  );
  return `query Q { ...F0 } ${fragments.join(' ')} fragment F${n} on Query { a${salt}: __typename }`;
}

const ATTACKS: Record<string, (salt: number) => string> = {
  'baseline { products { id } }': (salt) => `{ a${salt}: products { id } }`,
  'fragment chain n=30': (salt) => fragmentChain(30, salt),
  '300 copies of one field': (salt) =>
    `{ a${salt}: __typename ${Array.from({ length: 300 }, () => 'products { id }').join(' ')} }`,
  '400 aliases of __schema': (salt) =>
    `{ a${salt}: __typename ${Array.from({ length: 400 }, (_, i) => `s${i}: __schema { types { name } }`).join(' ')} }`,
};

async function timeRequests(url: string, text: (salt: number) => string) {
  const times: number[] = [];
  const statuses = new Set<number>();
  for (let i = 0; i < REQUESTS; i++) {
    const body = JSON.stringify({ query: text(i) });
    const started = performance.now();
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await res.arrayBuffer();
    times.push(performance.now() - started);
    statuses.add(res.status);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), statuses: [...statuses] };
}

async function main(): Promise<void> {
  const database = await prepareDatabase(async () => undefined);
  try {
    const port = await serveTally(database.url);
    const url = `http://127.0.0.1:${port}`;
    await timeRequests(url, ATTACKS['baseline { products { id } }']!); // warm-up
    let baseline: number | undefined;
    for (const [name, text] of Object.entries(ATTACKS)) {
      const figures = await timeRequests(url, text);
      baseline ??= figures.p50;
      process.stdout.write(
        `${name.padEnd(30)} status ${figures.statuses.join(',')}  p50 ${figures.p50.toFixed(2)} ms  ` +
          `p99 ${figures.p99.toFixed(2)} ms  ratio to baseline p50 ${(figures.p50 / baseline).toFixed(2)}\n`,
      );
    }
  } finally {
    await database.cleanup();
  }
  process.exit(0);
}

benchEntry(
  {
    'serve-bare': () => Promise.reject(new Error('no bare server in this benchmark')),
    'serve-tally': (url) => serveTally(url),
  },
  main,
);
