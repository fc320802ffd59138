import type { DataSource, EntityManager, Logger as TypeOrmLogger, QueryRunner } from 'typeorm';

/** Query runners (one per transaction) on which a statement has failed. */
const failedRunners = new WeakSet<QueryRunner>();

/**
 * TypeORM's logger, used only to notice failed statements (it is told of every one, with
 * its query runner): logs nothing, costs nothing per query.
 */
export class FailedStatementTracker implements TypeOrmLogger {
  logQuery(): void {}
  logQueryError(_error: unknown, _query: string, _parameters?: unknown[], runner?: QueryRunner) {
    if (runner) failedRunners.add(runner);
  }
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

/** Work to run once a transaction has ended (committed: true), by the manager that runs it. */
const pending = new WeakMap<EntityManager, Array<(committed: boolean) => void>>();

/**
 * Savepoints (`manager.transaction` inside `work`) are not supported with callbacks: one
 * registered in a savepoint that rolls back would still run if the outer work commits.
 *
 * `dataSource.transaction`, plus the callbacks registered with `afterCommit` during it, run
 * in order once the commit has succeeded, and dropped when it rolls back. For side effects
 * that must never announce what did not happen (live updates, STYLE 10).
 */
export async function runTransaction<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  const callbacks: Array<(committed: boolean) => void> = [];
  const settle = (committed: boolean) => {
    for (const callback of callbacks) {
      try {
        callback(committed);
      } catch (error) {
        // The transaction has ended: its caller must hear how, not of a side effect.
        process.emitWarning(`after-transaction callback failed: ${String(error)}`);
      }
    }
  };
  let result: T;
  try {
    result = await dataSource.transaction(async (manager) => {
      pending.set(manager, callbacks);
      try {
        const value = await work(manager);
        // A statement that failed inside `work`, caught there, leaves the transaction
        // aborted: PostgreSQL then answers COMMIT with a rollback and no error.
        if (manager.queryRunner && failedRunners.has(manager.queryRunner)) {
          throw new Error('a statement failed in this transaction: it is aborted, not committed');
        }
        return value;
      } finally {
        pending.delete(manager);
      }
    });
  } catch (error) {
    settle(false);
    throw error;
  }
  settle(true);
  return result;
}

/**
 * Runs `callback` after the transaction `manager` belongs to commits, or at once when the
 * manager is the data source's own (each statement commits by itself). A transaction not
 * started by `runTransaction` cannot say when it commits: that is a programming error, and
 * throwing here rolls it back rather than announce something uncommitted.
 */
export function afterCommit(manager: EntityManager | undefined, callback: () => void): void {
  afterTransaction(manager, (committed) => {
    if (committed) callback();
  });
}

/**
 * Runs `callback(committed)` once the transaction `manager` belongs to has ended, either
 * way; at once (committed) for the data source's own manager. Same rule as `afterCommit`
 * for transactions not started by `runTransaction`.
 */
export function afterTransaction(
  manager: EntityManager | undefined,
  callback: (committed: boolean) => void,
): void {
  if (!manager || !manager.queryRunner?.isTransactionActive) {
    callback(true);
    return;
  }
  const callbacks = pending.get(manager);
  if (!callbacks) {
    throw new Error('afterCommit in a transaction not started by runTransaction');
  }
  callbacks.push(callback);
}
