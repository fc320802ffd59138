import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { DomainError } from '../errors';
import { queryRows } from './sql';

/** Longest idempotency key accepted (also a CHECK constraint). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

export interface IdempotencyScope {
  userId: string;
  key: string;
  /** The operation's name: a key is bound to one operation. */
  operation: string;
  /** The operation's arguments; a replay must repeat them exactly. */
  request: Record<string, unknown>;
}

export function assertIdempotencyKey(key: string): void {
  if (
    key.length === 0 ||
    key.length > MAX_IDEMPOTENCY_KEY_LENGTH ||
    key.trim() !== key ||
    key.includes('\u0000')
  ) {
    throw new DomainError(
      'BAD_USER_INPUT',
      `idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters without surrounding spaces`,
    );
  }
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export function requestHash(operation: string, request: Record<string, unknown>): string {
  return createHash('sha256')
    .update(JSON.stringify([operation, canonical(request)]))
    .digest('hex');
}

/** Claims (user, key), or returns no row when it is taken. */
export const CLAIM_SQL = `INSERT INTO idempotency_keys (user_id, key, operation, request_hash, response)
  VALUES ($1, $2, $3, $4, 'null'::jsonb)
  ON CONFLICT (user_id, key) DO NOTHING
  RETURNING 1`;

export type Claim<T> = { kind: 'claimed' } | { kind: 'replay'; response: T };

/**
 * Claims a key inside the caller's database transaction. The insert of the key row is what
 * serialises replays: a concurrent one blocks on the primary key until this transaction
 * ends. If it commits, the waiter finds the row and replays the stored response; if it rolls
 * back (a refused deduction, say), the waiter's insert goes through and it runs afresh, so
 * a failed write never binds its key.
 */
export async function claimIdempotencyKey<T>(
  manager: EntityManager,
  scope: IdempotencyScope,
): Promise<Claim<T>> {
  assertIdempotencyKey(scope.key);
  const hash = requestHash(scope.operation, scope.request);
  const inserted = await queryRows<unknown>(manager, CLAIM_SQL, [
    scope.userId,
    scope.key,
    scope.operation,
    hash,
  ]);
  if (inserted.length === 1) return { kind: 'claimed' };
  const rows: Array<{ operation: string; request_hash: string; response: T }> = await manager.query(
    `SELECT operation, request_hash, response FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
    [scope.userId, scope.key],
  );
  const first = rows[0];
  if (!first) throw new Error('idempotency key vanished between insert and read');
  if (first.operation !== scope.operation || first.request_hash !== hash) {
    throw new DomainError(
      'IDEMPOTENCY_KEY_REUSED',
      'This idempotency key was already used with other arguments',
    );
  }
  return { kind: 'replay', response: first.response };
}

/** Stores the first result under the claimed key, in the same transaction as the write. */
export async function storeIdempotentResponse(
  manager: EntityManager,
  scope: Pick<IdempotencyScope, 'userId' | 'key'>,
  response: unknown,
): Promise<void> {
  await manager.query(
    `UPDATE idempotency_keys SET response = $3::jsonb WHERE user_id = $1 AND key = $2`,
    [scope.userId, scope.key, JSON.stringify(response)],
  );
}
