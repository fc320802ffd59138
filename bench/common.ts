/**
 * What the benchmarks share: a throwaway database, server processes under load, closed-loop
 * and HTTP load, the alternating baseline/subject comparison and its report.
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import inspector from 'node:inspector';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { Client, Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { loadConfig } from '../src/config';
import { createDataSource, startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db';
import { silentLogger } from '../src/observability';
import { startTally } from '../src/server';

export const CALLERS = 64;
export const POOL_SIZE = 20;
export const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
export const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);

export interface Figures {
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CALLERS closed-loop callers running `op` for `seconds`. */
export async function closedLoop(op: () => Promise<unknown>, seconds: number): Promise<Figures> {
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

/** CALLERS connections POSTing to `path` for `seconds`, each request made by `next()`. */
export async function httpLoad(
  port: number,
  path: string,
  next: () => { body: string; headers: Record<string, string> },
  seconds: number,
): Promise<Figures> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CALLERS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path,
        setupRequest: (req) => {
          const { body, headers } = next();
          return { ...req, body, headers: { ...req.headers, ...headers } };
        },
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
 * An open loop: POSTs evenly spaced at `rate` a second, whatever the answers do, over at most
 * CALLERS keep-alive sockets; latency from send to the end of the answer. (autocannon's own
 * rate option sends each second's requests in one burst, which measures the burst.)
 */
export async function openLoop(
  port: number,
  path: string,
  next: () => { body: string; headers: Record<string, string> },
  seconds: number,
  rate: number,
): Promise<Figures & { accepted: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CALLERS });
  const latencies: number[] = [];
  let errors = 0;
  const send = () =>
    new Promise<void>((resolve) => {
      const { body, headers } = next();
      const t0 = performance.now();
      const req = httpRequest(
        { host: '127.0.0.1', port, path, method: 'POST', agent, headers },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode! >= 200 && res.statusCode! < 300) {
              latencies.push(performance.now() - t0);
            } else {
              errors++;
            }
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const total = Math.round(seconds * rate);
  const interval = 1000 / rate;
  const start = performance.now();
  const inFlight: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    // Sleep until this request's slot; a late timer sends at once (no catching-up burst
    // beyond the slots already due).
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(send());
  }
  await Promise.all(inFlight);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    accepted: latencies.length,
  };
}

/**
 * Alternates baseline and subject ROUNDS times, each pair back to back, and keeps the pair
 * whose ratio is the median: a noisy neighbour then spoils one pair, not the verdict.
 */
export async function compare(
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

/** Prints each comparison and, at the end, a markdown table; counts runs with errors. */
export class Reporter {
  private readonly rows: string[] = [];
  failures = 0;

  report(
    layer: string,
    scenario: string,
    result: { baseline: Figures; subject: Figures },
    target: number,
    extra = '',
  ): void {
    const ratio = result.subject.perSecond / result.baseline.perSecond;
    const line = (name: string, f: Figures) =>
      `  ${name.padEnd(9)} ${f.perSecond.toFixed(0).padStart(7)}/s  p50 ${f.p50.toFixed(1).padStart(6)} ms  p99 ${f.p99.toFixed(1).padStart(6)} ms  errors ${f.errors}`;
    const verdict = ratio >= target ? 'meets' : 'BELOW';
    process.stdout.write(
      [
        `${layer} · ${scenario}`,
        line('baseline', result.baseline),
        line('tally', result.subject),
        `  ratio ${ratio.toFixed(3)} (target ≥ ${target}: ${verdict})${extra}`,
      ].join('\n') + '\n\n',
    );
    this.rows.push(
      `| ${layer} | ${scenario} | ${result.baseline.perSecond.toFixed(0)} | ${result.subject.perSecond.toFixed(0)} | ${ratio.toFixed(2)} | ${result.subject.p50.toFixed(1)} / ${result.subject.p99.toFixed(1)} |`,
    );
    if (result.baseline.errors + result.subject.errors > 0) this.failures++;
  }

  finish(started: number): void {
    process.stdout.write(
      `\n| layer | scenario | baseline/s | tally/s | ratio | tally p50 / p99 ms |\n|---|---|---|---|---|---|\n${this.rows.join('\n')}\n`,
    );
    process.stdout.write(`\ntook ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    if (this.failures > 0) {
      process.stdout.write('errors or drift during the run: see above\n');
      process.exitCode = 1;
    }
  }
}

/**
 * A migrated throwaway database on BENCH_DATABASE_URL / DATABASE_URL, else on an embedded
 * PostgreSQL in a temp folder; `seed` fills it.
 */
export async function prepareDatabase(
  seed: (ds: DataSource) => Promise<void>,
): Promise<{ url: string; cleanup: () => Promise<void> }> {
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
  await seed(ds);
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

export function barePool(url: string): Pool {
  return new Pool({
    connectionString: url,
    max: POOL_SIZE,
    options: '-c default_transaction_isolation=read\\ committed',
  });
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Starts `file` as a child in `role` (TypeScript through swc) and waits for its port. */
export async function spawnServer(
  file: string,
  role: string,
  url: string,
  nodeOptions: string[] = [],
): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(file, [role, url], {
    execArgv: [...nodeOptions, '-r', path.join(__dirname, 'register.js')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${role} exited with ${code}`)));
  });
  return { child, port };
}

/** A child's memory after a full garbage collection (spawned with --expose-gc). */
export function childMemory(child: ChildProcess): Promise<NodeJS.MemoryUsage> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      const memory = (message as { memory?: NodeJS.MemoryUsage }).memory;
      if (!memory) return;
      child.off('message', onMessage);
      resolve(memory);
    };
    child.on('message', onMessage);
    child.send('memory');
  });
}

/** Asks each child to exit cleanly (so a CPU profile gets written), then makes sure. */
export async function stopChildren(children: ChildProcess[]): Promise<void> {
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
}

/**
 * The body of a server child: starts `serve(url)` and reports its port. With BENCH_PROFILE
 * set, the role named `profiled` records its CPU from start to stop into that file (open it
 * in Chrome DevTools): where a request's time goes.
 */
function runChild(
  role: string,
  url: string,
  serve: (url: string) => Promise<number>,
  profiled: string,
): void {
  const profileTo = role === profiled ? process.env['BENCH_PROFILE'] : undefined;
  const session = profileTo ? new inspector.Session() : undefined;
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) =>
      session!.post(method, (error, result) => (error ? reject(error) : resolve(result))),
    );
  process.on('message', (message) => {
    if (message === 'memory') {
      // After a full collection (with --expose-gc): what is really held.
      (globalThis as { gc?: () => void }).gc?.();
      process.send?.({ memory: process.memoryUsage() });
      return;
    }
    if (message !== 'stop') return;
    if (!session) process.exit(0);
    void post('Profiler.stop').then((result) => {
      writeFileSync(profileTo!, JSON.stringify((result as { profile: unknown }).profile));
      process.exit(0);
    });
  });
  serve(url).then(
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
}

/**
 * A benchmark file's entry point: run as `serve-bare` or `serve-tally <url>` it is one of
 * the server children (spawnServer); otherwise it is the parent and runs `main`.
 */
export function benchEntry(
  servers: Record<'serve-bare' | 'serve-tally', (url: string) => Promise<number>>,
  main: () => Promise<void>,
): void {
  const role = process.argv[2];
  if (role === 'serve-bare' || role === 'serve-tally') {
    runChild(role, process.argv[3]!, servers[role], 'serve-tally');
  } else {
    runMain(main);
  }
}

function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}

/** The Tally service on a free port, configured for a benchmark (jobs off, warnings only). */
export async function serveTally(url: string, env: Record<string, string> = {}): Promise<number> {
  const config = loadConfig({
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: url,
    DATABASE_POOL_SIZE: String(POOL_SIZE),
    LOG_LEVEL: 'warn',
    JOBS_ENABLED: 'false',
    ...env,
  });
  const server = await startTally({ config });
  return server.port;
}

/** A bare node:http server answering every request with `handle`; 500 when it throws. */
export async function serveBare(
  handle: (req: IncomingMessage) => Promise<{ status: number; body: string }>,
): Promise<number> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    handle(req).then(
      ({ status, body }) => res.writeHead(status, { 'content-type': 'application/json' }).end(body),
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}
