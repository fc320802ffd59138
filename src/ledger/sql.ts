import type { EntityManager } from 'typeorm';

/**
 * The rows a statement returned. TypeORM's `manager.query` answers an UPDATE … RETURNING with
 * `[rows, rowCount]` but a SELECT with plain rows; asking the query runner for its structured
 * result gives rows for every kind of statement.
 */
export async function queryRows<T>(
  manager: EntityManager,
  sql: string,
  parameters: unknown[],
): Promise<T[]> {
  const runner = manager.queryRunner ?? manager.connection.createQueryRunner();
  try {
    const result = await runner.query(sql, parameters, true);
    return result.records as T[];
  } finally {
    if (!manager.queryRunner) await runner.release();
  }
}
