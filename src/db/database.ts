import { MigrationExecutor, type DataSource, type Migration } from 'typeorm';
import type { AppConfig } from '../config';
import { maskUrl } from '../config';
import type { Logger } from '../observability';
import { createDataSource } from './data-source';
import { resolveDataDir, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded';

/**
 * Session advisory lock key held while migrations run ("tally" plus "migrate" as one int64),
 * so instances starting together take turns: the first applies, the others find nothing to do.
 */
const MIGRATION_LOCK_KEY = '7453945226155098';

/**
 * Pending migrations, one process at a time across every instance on the database. They run
 * on the connection that holds the lock, so a pool of one connection is enough.
 */
async function runMigrationsAlone(dataSource: DataSource): Promise<Migration[]> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const executor = new MigrationExecutor(dataSource, lock);
      executor.transaction = 'each';
      return await executor.executePendingMigrations();
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await lock.release();
  }
}

export interface Database {
  dataSource: DataSource;
  /** The connection string in use (DATABASE_URL, or the embedded cluster's). */
  url: string;
  /** The embedded cluster, when no DATABASE_URL was given. */
  embedded: EmbeddedPostgres | undefined;
  close(): Promise<void>;
}

/**
 * Connects to DATABASE_URL, or starts the embedded PostgreSQL when it is unset, then runs
 * pending migrations unless RUN_MIGRATIONS=false.
 */
export async function openDatabase(
  config: Pick<AppConfig, 'databaseUrl' | 'embeddedDataDir' | 'runMigrations'> &
    Partial<Pick<AppConfig, 'databasePoolSize' | 'databasePoolWaitMs'>>,
  logger: Logger,
): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let url = config.databaseUrl;
  if (!url) {
    const dataDir = resolveDataDir(config.embeddedDataDir, logger);
    embedded = await startEmbeddedPostgres({ dataDir, logger });
    url = embedded.url;
    logger.info({ dataDir }, 'embedded PostgreSQL started');
  }
  const dataSource = createDataSource({
    url,
    ...(config.databasePoolSize ? { poolSize: config.databasePoolSize } : {}),
    ...(config.databasePoolWaitMs ? { poolWaitMs: config.databasePoolWaitMs } : {}),
  });
  try {
    await dataSource.initialize();
    if (config.runMigrations) {
      const applied = await runMigrationsAlone(dataSource);
      if (applied.length > 0) {
        logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
      }
    }
  } catch (error) {
    logger.error({ database: maskUrl(url), err: error }, 'database start failed');
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw error;
  }
  let closed = false;
  return {
    dataSource,
    url,
    embedded,
    async close() {
      if (closed) return;
      closed = true;
      if (dataSource.isInitialized) await dataSource.destroy();
      await embedded?.stop();
    },
  };
}
