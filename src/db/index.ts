export { createDataSource, type DataSourceOptions } from './data-source';
export { openDatabase, type Database } from './database';
export { afterCommit, afterTransaction, runTransaction } from './transactions';
export {
  EmbeddedPostgresError,
  startEmbeddedPostgres,
  resolveDataDir,
  type EmbeddedPostgres,
} from './embedded';
