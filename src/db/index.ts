export { createDataSource, type DataSourceOptions } from './data-source';
export { openDatabase, type Database } from './database';
export { afterCommit, afterTransaction, runTransaction } from './transactions';
export { startEmbeddedPostgres, resolveDataDir, type EmbeddedPostgres } from './embedded';
