import type { EntityManager } from 'typeorm';
import { CreditTransaction, type CreditTransactionType } from '../entities';
import { DomainError } from '../errors';
import { queryRows } from './sql';

/** The result of a movement: its transaction row and the balance right after it. */
export interface CreditMovement {
  transaction: CreditTransaction;
  balance: number;
  /** True when an idempotency key (or a settled reservation) replayed an earlier result. */
  replayed: boolean;
}

/** One balance change, as the ledger's public operations describe it. */
export interface MoveSpec {
  userId: string;
  type: CreditTransactionType;
  /** Signed change of the balance. */
  delta: number;
  description: string;
  /** Only a clawback may take the balance below zero (invariant 3). */
  mayGoNegative: boolean;
  orderId?: string | null;
  subscriptionId?: string | null;
  periodStart?: Date | null;
  refundedTransactionId?: string | null;
  /** A capture: the reservation it settles, and the credits that hold had on `reserved`. */
  reservationId?: string | null;
  releaseReserved?: number;
}

/**
 * Takes the profile's row lock. Every change to a user's reservations happens under it, and
 * it is always the first lock a ledger transaction takes on a user (after its idempotency
 * key), so two ledger transactions never wait on each other in opposite orders.
 *
 * It is the lock an UPDATE of the row takes (FOR NO KEY UPDATE), not FOR UPDATE: inserting a
 * row that references the profile (an idempotency key, a transaction) holds FOR KEY SHARE on
 * it, and two transactions each holding that and asking FOR UPDATE would deadlock.
 */
export async function lockProfile(
  manager: EntityManager,
  userId: string,
): Promise<{ reserved: number } | undefined> {
  const rows: Array<{ reserved: number }> = await manager.query(
    'SELECT reserved FROM user_profiles WHERE id = $1 FOR NO KEY UPDATE',
    [userId],
  );
  return rows[0];
}

/**
 * Settles the user's lapsed holds: ACTIVE reservations past their expiry become EXPIRED and
 * leave `reserved`, in one statement under the profile's lock. Reads never count a lapsed
 * hold, so this only brings the stored sum in line with what time already freed. Returns how
 * many holds it settled.
 */
export async function settleExpiredHolds(manager: EntityManager, userId: string): Promise<number> {
  const profile = await lockProfile(manager, userId);
  if (!profile || profile.reserved === 0) return 0;
  const rows = await queryRows<{ settled: number }>(
    manager,
    `WITH expired AS (
       UPDATE credit_reservations SET status = 'EXPIRED', settled_at = expires_at
       WHERE user_id = $1 AND status = 'ACTIVE' AND expires_at <= clock_timestamp()
       RETURNING amount
     ), total AS (SELECT count(*)::int AS settled, COALESCE(sum(amount), 0)::int AS amount FROM expired)
     UPDATE user_profiles p SET reserved = p.reserved - total.amount, updated_at = now()
     FROM total WHERE p.id = $1 AND total.settled > 0
     RETURNING total.settled`,
    [userId],
  );
  return rows[0]?.settled ?? 0;
}

/**
 * Whether the user has holds that lapsed but still count in `reserved`; NOT_FOUND for an
 * unknown user. Takes no lock: a refused debit costs one more indexed read, not a wait.
 */
export async function hasLapsedHolds(manager: EntityManager, userId: string): Promise<boolean> {
  const rows: Array<{ lapsed: boolean }> = await manager.query(
    `SELECT EXISTS (SELECT 1 FROM credit_reservations
                    WHERE user_id = p.id AND status = 'ACTIVE' AND expires_at <= clock_timestamp()
                   ) AS lapsed
     FROM user_profiles p WHERE p.id = $1`,
    [userId],
  );
  if (!rows[0]) throw new DomainError('NOT_FOUND', 'User not found');
  return rows[0].lapsed;
}

/**
 * The balance change and its transaction row in one statement: a conditional UPDATE whose
 * RETURNING feeds the INSERT, so the row lock it takes is held for one round trip (plus the
 * COMMIT), not three. A debit (other than a clawback) must leave the unreserved part of the
 * balance at zero or above; a capture first gives back its own hold. When the condition
 * fails, nothing is inserted and no row comes back.
 *
 * With a key ($12), the same statement stores the result under the idempotency key claimed
 * earlier in the transaction.
 */
export const MOVE_SQL = `WITH moved AS (
    UPDATE user_profiles SET credits = credits + $2, reserved = reserved - $4, updated_at = now()
    WHERE id = $1 AND ($3 OR $2 >= 0 OR credits - (reserved - $4) + $2 >= 0)
    RETURNING credits
  ), inserted AS (
    INSERT INTO credit_transactions
      (user_id, type, amount, balance_after, description, order_id, subscription_id,
       period_start, refunded_transaction_id, reservation_id)
    SELECT $1, $5::varchar, $2, moved.credits, $6::varchar, $7::uuid, $8::uuid,
           $9::timestamptz, $10::uuid, $11::uuid
    FROM moved
    RETURNING id, seq, balance_after, created_at
  ), stored AS (
    UPDATE idempotency_keys k
    SET response = jsonb_build_object('transactionId', inserted.id, 'balance', inserted.balance_after)
    FROM inserted
    WHERE $12::varchar IS NOT NULL AND k.user_id = $1 AND k.key = $12::varchar
  )
  SELECT id, seq, balance_after, created_at FROM inserted`;

export function moveParameters(spec: MoveSpec, idempotencyKey?: string): unknown[] {
  return [
    spec.userId,
    spec.delta,
    spec.mayGoNegative,
    spec.releaseReserved ?? 0,
    spec.type,
    spec.description,
    spec.orderId ?? null,
    spec.subscriptionId ?? null,
    spec.periodStart ?? null,
    spec.refundedTransactionId ?? null,
    spec.reservationId ?? null,
    idempotencyKey ?? null,
  ];
}

interface MovedRow {
  id: string;
  seq: string;
  balance_after: number;
  created_at: Date;
}

/**
 * The balance change and its transaction row, in the caller's database transaction. With
 * `idempotencyKey` (already claimed in this transaction), the result is stored under it.
 */
export async function applyMovement(
  manager: EntityManager,
  spec: MoveSpec,
  idempotencyKey?: string,
): Promise<CreditMovement> {
  const move = async () =>
    (await queryRows<MovedRow>(manager, MOVE_SQL, moveParameters(spec, idempotencyKey)))[0];
  let row = await move();
  if (!row) {
    // `reserved` may still count holds that lapsed since the user's last write: settle them
    // and try once more before refusing.
    if (await hasLapsedHolds(manager, spec.userId)) {
      await settleExpiredHolds(manager, spec.userId);
      row = await move();
    }
    if (!row) throw new DomainError('INSUFFICIENT_CREDITS', 'Insufficient credits');
  }
  const transaction = Object.assign(new CreditTransaction(), {
    id: row.id,
    seq: row.seq,
    userId: spec.userId,
    type: spec.type,
    amount: spec.delta,
    balanceAfter: row.balance_after,
    description: spec.description,
    orderId: spec.orderId ?? null,
    subscriptionId: spec.subscriptionId ?? null,
    periodStart: spec.periodStart ?? null,
    refundedTransactionId: spec.refundedTransactionId ?? null,
    reservationId: spec.reservationId ?? null,
    createdAt: row.created_at,
  });
  return { transaction, balance: row.balance_after, replayed: false };
}
