export { createDataSource, type DataSourceOptions } from './data-source';
export { openDatabase, type Database } from './database';
export { poolStats, type PoolStats } from './pool-stats';
export { afterCommit, afterTransaction, runTransaction } from './transactions';
export {
  EmbeddedPostgresError,
  startEmbeddedPostgres,
  resolveDataDir,
  type EmbeddedPostgres,
} from './embedded';
