import type { EntityManager } from 'typeorm';
import { CreditTransaction, type CreditTransactionType } from '../entities';
import { DomainError } from '../errors';

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
 * leave `reserved`, under the profile's lock (tally_settle_expired_holds, a migration). Reads
 * never count a lapsed hold, so this only brings the stored sum in line with what time
 * already freed. Returns how many holds it settled.
 */
export async function settleExpiredHolds(manager: EntityManager, userId: string): Promise<number> {
  const rows: Array<{ settled: number }> = await manager.query(
    'SELECT tally_settle_expired_holds($1) AS settled',
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

/** How a keyed movement is recognised on replay. */
export interface MovementKey {
  key: string;
  operation: string;
  requestHash: string;
}

/**
 * One movement in one database call (tally_move, a migration): claim the key, the
 * conditional UPDATE, the transaction row, the stored result. Refusals raise TL001 to TL003,
 * rolling the whole call back; see Ledger.translate.
 */
export const MOVE_SQL = `SELECT outcome, transaction_id, balance, tx_seq, tx_created_at
  FROM tally_move($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`;

export function moveParameters(spec: MoveSpec, key?: MovementKey): unknown[] {
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
    key?.key ?? null,
    key?.operation ?? null,
    key?.requestHash ?? null,
  ];
}

interface MovedRow {
  outcome: 'moved' | 'replay';
  transaction_id: string;
  balance: number;
  tx_seq: string | null;
  tx_created_at: Date | null;
}

/**
 * The balance change and its transaction row. Given the data source's own manager it runs
 * as its own transaction (one round trip); given a transaction's manager it joins it.
 */
export async function applyMovement(
  manager: EntityManager,
  spec: MoveSpec,
  key?: MovementKey,
): Promise<CreditMovement> {
  const rows: MovedRow[] = await manager.query(MOVE_SQL, moveParameters(spec, key));
  const row = rows[0]!;
  if (row.outcome === 'replay') {
    const transaction = await manager.findOneByOrFail(CreditTransaction, {
      id: row.transaction_id,
    });
    return { transaction, balance: row.balance, replayed: true };
  }
  const transaction = Object.assign(new CreditTransaction(), {
    id: row.transaction_id,
    seq: row.tx_seq,
    userId: spec.userId,
    type: spec.type,
    amount: spec.delta,
    balanceAfter: row.balance,
    description: spec.description,
    orderId: spec.orderId ?? null,
    subscriptionId: spec.subscriptionId ?? null,
    periodStart: spec.periodStart ?? null,
    refundedTransactionId: spec.refundedTransactionId ?? null,
    reservationId: spec.reservationId ?? null,
    createdAt: row.tx_created_at,
  });
  return { transaction, balance: row.balance, replayed: false };
}
