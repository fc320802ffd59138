import { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/** How a DataSource's connection pool is used, for the /metrics gauges. */
export interface PoolStats {
  /** Connections open, idle or in use. */
  total: number;
  idle: number;
  /** Queries waiting for a connection. */
  waiting: number;
}

/**
 * The one place that knows where TypeORM keeps its node-pg pool: `master`, a public property
 * of TypeORM's exported `PostgresDriver` class (declared in its .d.ts, typed `any`). Both
 * steps are checked with `instanceof` rather than cast, so a TypeORM that changes either
 * reads as an empty pool (and fails test/e2e/metrics.test.ts), never as a crash on a scrape.
 * Read on each call: the driver replaces or drops the pool when it reconnects or closes.
 */
export function poolStats(dataSource: DataSource): PoolStats {
  const driver = dataSource.driver;
  const pool: unknown = driver instanceof PostgresDriver ? driver.master : undefined;
  if (!(pool instanceof Pool)) return { total: 0, idle: 0, waiting: 0 };
  return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
}
