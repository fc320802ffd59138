export { createDataSource, type DataSourceOptions } from './data-source';
export { openDatabase, type Database } from './database';
export { startEmbeddedPostgres, resolveDataDir, type EmbeddedPostgres } from './embedded';
