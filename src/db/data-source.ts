import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { ENTITIES } from '../entities';
import { MIGRATIONS } from '../../migrations';
import { FailedStatementTracker } from './transactions';

export interface DataSourceOptions {
  url: string;
  /** Pool size; the ledger's throughput depends on it (see bench/). */
  poolSize?: number;
  /** How long a query waits for a pool connection (or a new connection) before failing. */
  poolWaitMs?: number;
  applicationName?: string;
}

/**
 * The one DataSource definition, shared by the service, the tests and the TypeORM CLI
 * (ormconfig.ts), so all three see the same entities and migrations.
 */
export function createDataSource(options: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    // gen_random_uuid() is built into PostgreSQL 13+: no extension to install.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    logging: false,
    // Tells runTransaction which transactions had a statement fail (see there).
    logger: new FailedStatementTracker(),
    applicationName: options.applicationName ?? 'tally',
    extra: {
      max: options.poolSize ?? 20,
      // The ledger is written for READ COMMITTED (conditional UPDATEs re-check the latest row
      // version). Fixing it per connection, whatever the server's default, spares every
      // transaction a SET TRANSACTION round trip.
      options: '-c default_transaction_isolation=read\\ committed',
      // A statement that runs away must not hold a pool connection forever.
      statement_timeout: 30_000,
      idle_in_transaction_session_timeout: 60_000,
      // Bounds the wait for a free connection too: an exhausted pool fails requests in
      // this time (503, Retry-After) instead of queueing them without end.
      connectionTimeoutMillis: options.poolWaitMs ?? 10_000,
    },
  });
}
