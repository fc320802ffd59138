import type { DataSource, EntityManager } from 'typeorm';
import {
  CreditReservation,
  CreditTransaction,
  MAX_DESCRIPTION_LENGTH,
  type ReservationStatus,
} from '../entities';
import { afterTransaction, runTransaction } from '../db';
import { DomainError } from '../errors';
import {
  assertIdempotencyKey,
  claimIdempotencyKey,
  requestHash,
  storeIdempotentResponse,
  type IdempotencyScope,
} from './idempotency';
import {
  applyMovement,
  hasLapsedHolds,
  lockProfile,
  settleExpiredHolds,
  type CreditMovement,
  type MovementKey,
  type MoveSpec,
} from './movements';
import { assertUserId } from './profiles';
import { queryRows } from './sql';

export type { CreditMovement } from './movements';

/** Orders `seq` values (bigint strings from pg). */
function compareSeq(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** Largest single movement. Balances are int4; this keeps a sum of a few far from overflow. */
export const MAX_CREDIT_AMOUNT = 100_000_000;
/** Reservation time-to-live: default and bounds, in seconds. */
export const DEFAULT_RESERVATION_TTL_SECONDS = 900;
export const MIN_RESERVATION_TTL_SECONDS = 2;
export const MAX_RESERVATION_TTL_SECONDS = 86_400;
/**
 * A capture must settle at least this long before the hold's expiry. The capture commits a
 * few statements after it checks the expiry; without the margin a reader could see the hold
 * expired (and its credits free) just before the capture commits and takes them.
 */
export const CAPTURE_MARGIN_SECONDS = 1;
/** Unexpired holds one user may have at once. */
export const MAX_ACTIVE_RESERVATIONS = 1000;

export interface CreditDrift {
  userId: string;
  credits: number;
  transactionSum: number;
  drift: number;
}

/** A user whose stored `reserved` differs from the sum of their ACTIVE holds. */
export interface ReservedDrift {
  userId: string;
  reserved: number;
  activeHoldSum: number;
}

/** What every movement takes. */
export interface MovementOptions {
  userId: string;
  /** Credits; positive (signed only for `adjust`). */
  amount: number;
  description: string;
  /** Makes a replay return the first result (per user, bound to the operation and arguments). */
  idempotencyKey?: string;
  /** Runs inside the caller's transaction (billing completing an order, say). */
  manager?: EntityManager;
}

export interface ReserveOptions {
  userId: string;
  amount: number;
  description: string;
  /** Seconds until the hold lapses by itself; default DEFAULT_RESERVATION_TTL_SECONDS. */
  ttlSeconds?: number;
  idempotencyKey?: string;
}

export interface CaptureOptions {
  reservationId: string;
  /** Credits actually used, at most the hold; default the whole hold. */
  amount?: number;
  /** The CONSUMPTION's description; default the reservation's. */
  description?: string;
}

/** A capture: the CONSUMPTION it wrote and the settled reservation. */
export interface CaptureResult extends CreditMovement {
  reservation: CreditReservation;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function assertAmount(amount: number, name = 'amount'): void {
  if (!Number.isSafeInteger(amount) || amount <= 0 || amount > MAX_CREDIT_AMOUNT) {
    throw new DomainError(
      'BAD_USER_INPUT',
      `${name} must be a positive integer of at most ${MAX_CREDIT_AMOUNT}`,
    );
  }
}

export function assertDescription(description: string): void {
  if (
    typeof description !== 'string' ||
    description.trim().length === 0 ||
    description.length > MAX_DESCRIPTION_LENGTH ||
    description.includes('\u0000')
  ) {
    throw new DomainError(
      'BAD_USER_INPUT',
      `description must be 1 to ${MAX_DESCRIPTION_LENGTH} characters`,
    );
  }
}

export function assertTtl(ttlSeconds: number): void {
  if (
    !Number.isSafeInteger(ttlSeconds) ||
    ttlSeconds < MIN_RESERVATION_TTL_SECONDS ||
    ttlSeconds > MAX_RESERVATION_TTL_SECONDS
  ) {
    throw new DomainError(
      'BAD_USER_INPUT',
      `ttlSeconds must be an integer from ${MIN_RESERVATION_TTL_SECONDS} to ${MAX_RESERVATION_TTL_SECONDS}`,
    );
  }
}

/** PostgreSQL error codes the ledger turns into domain errors. */
const PG_FOREIGN_KEY_VIOLATION = '23503';
const PG_CHECK_VIOLATION = '23514';
const PG_NUMERIC_OUT_OF_RANGE = '22003';
const PG_UNTRANSLATABLE_CHARACTER = '22021';
const PG_INVALID_TEXT_REPRESENTATION = '22P02';
/** Raised by tally_move (migrations/1795720000000-LedgerMoveFunction.ts). */
const PG_INSUFFICIENT_CREDITS = 'TL001';
const PG_UNKNOWN_USER = 'TL002';
const PG_KEY_REUSED = 'TL003';

function pgCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

function pgConstraint(error: unknown): string | undefined {
  const e = error as { constraint?: unknown; driverError?: { constraint?: unknown } };
  const c = e?.driverError?.constraint ?? e?.constraint;
  return typeof c === 'string' ? c : undefined;
}

/**
 * A reservation as it stands now: an ACTIVE row past its expiry reads as EXPIRED (settled at
 * its expiry) whether or not a write has settled it yet.
 */
const RESERVATION_COLUMNS = `id, user_id, amount, description, expires_at, captured_amount, created_at,
  CASE WHEN status = 'ACTIVE' AND expires_at <= clock_timestamp() THEN 'EXPIRED' ELSE status END AS status,
  CASE WHEN status = 'ACTIVE' AND expires_at <= clock_timestamp() THEN expires_at ELSE settled_at END AS settled_at`;

interface ReservationRow {
  id: string;
  user_id: string;
  amount: number;
  description: string;
  expires_at: Date;
  captured_amount: number | null;
  created_at: Date;
  status: ReservationStatus;
  settled_at: Date | null;
}

function toReservation(row: ReservationRow): CreditReservation {
  return Object.assign(new CreditReservation(), {
    id: row.id,
    userId: row.user_id,
    amount: row.amount,
    status: row.status,
    description: row.description,
    expiresAt: row.expires_at,
    settledAt: row.settled_at,
    capturedAmount: row.captured_amount,
    createdAt: row.created_at,
  });
}

/**
 * The credits ledger: the only writer of `user_profiles.credits`, `user_profiles.reserved`,
 * `credit_transactions` and `credit_reservations`. Every movement changes the balance with one
 * conditional UPDATE and appends its transaction row in the same database transaction
 * (invariants 1 and 2); nothing is read and then written.
 */
export class Ledger {
  constructor(
    private readonly dataSource: DataSource,
    private readonly hooks: { afterCommit?: (movement: CreditMovement) => void } = {},
  ) {}

  /** Adds credits: a purchase, a subscription period's grant, or a positive adjustment. */
  async grant(
    options: MovementOptions & {
      type: 'PURCHASE' | 'SUBSCRIPTION_GRANT' | 'ADJUSTMENT';
      orderId?: string;
      subscriptionId?: string;
      periodStart?: Date;
    },
  ): Promise<CreditMovement> {
    assertAmount(options.amount);
    return this.run('grant', options, {
      userId: options.userId,
      type: options.type,
      delta: options.amount,
      description: options.description,
      mayGoNegative: false,
      orderId: options.orderId ?? null,
      subscriptionId: options.subscriptionId ?? null,
      periodStart: options.periodStart ?? null,
    });
  }

  /**
   * Takes credits for work; INSUFFICIENT_CREDITS, and nothing moves, when the balance less
   * the credits on hold is below the amount.
   */
  async deduct(options: MovementOptions): Promise<CreditMovement> {
    assertAmount(options.amount);
    return this.run('deduct', options, {
      userId: options.userId,
      type: 'CONSUMPTION',
      delta: -options.amount,
      description: options.description,
      mayGoNegative: false,
    });
  }

  /**
   * An admin's correction, positive or negative. A negative one is refused below the
   * spendable balance, like a deduction: taking credits a user never had is a clawback's job.
   */
  async adjust(options: MovementOptions): Promise<CreditMovement> {
    if (!Number.isSafeInteger(options.amount) || options.amount === 0) {
      throw new DomainError('BAD_USER_INPUT', 'amount must be a non-zero integer');
    }
    assertAmount(Math.abs(options.amount));
    return this.run('adjust', options, {
      userId: options.userId,
      type: 'ADJUSTMENT',
      delta: options.amount,
      description: options.description,
      mayGoNegative: false,
    });
  }

  /**
   * Takes back purchased credits after a provider refund: the full amount, even below zero.
   * A negative balance then blocks every deduction until it is topped up.
   */
  async clawback(
    options: MovementOptions & { orderId?: string; subscriptionId?: string },
  ): Promise<CreditMovement> {
    assertAmount(options.amount);
    return this.run('clawback', options, {
      userId: options.userId,
      type: 'CLAWBACK',
      delta: -options.amount,
      description: options.description,
      mayGoNegative: true,
      orderId: options.orderId ?? null,
      subscriptionId: options.subscriptionId ?? null,
    });
  }

  /**
   * Gives back all (default) or part of one CONSUMPTION, for work that failed. Refunds of a
   * consumption add up to at most what it took: a database trigger refuses more, even under
   * concurrent refunds.
   */
  async refund(options: {
    transactionId: string;
    amount?: number;
    description: string;
    idempotencyKey?: string;
    manager?: EntityManager;
  }): Promise<CreditMovement> {
    if (options.amount !== undefined) assertAmount(options.amount);
    assertDescription(options.description);
    const consumption = await this.findTransaction(options.transactionId, options.manager);
    if (!consumption) throw new DomainError('NOT_FOUND', 'Transaction not found');
    if (consumption.type !== 'CONSUMPTION') {
      throw new DomainError('BAD_USER_INPUT', 'Only a CONSUMPTION transaction can be refunded');
    }
    const amount = options.amount ?? -consumption.amount;
    return this.run(
      'refund',
      options,
      {
        userId: consumption.userId,
        type: 'REFUND',
        delta: amount,
        description: options.description,
        mayGoNegative: false,
        refundedTransactionId: consumption.id,
      },
      // A replay must repeat the request: the amount (an omitted one is the whole
      // consumption) and the description.
      { transactionId: options.transactionId, amount, description: options.description },
    );
  }

  /**
   * Holds credits for work about to run: they stay in the balance but no debit may take them
   * until the hold is captured, released or lapses after `ttlSeconds`. Moves nothing and
   * writes no transaction row. INSUFFICIENT_CREDITS when the unreserved balance is short.
   */
  async reserve(options: ReserveOptions): Promise<CreditReservation> {
    assertUserId(options.userId);
    assertAmount(options.amount);
    assertDescription(options.description);
    const ttlSeconds = options.ttlSeconds ?? DEFAULT_RESERVATION_TTL_SECONDS;
    assertTtl(ttlSeconds);
    return this.transact(undefined, async (manager) => {
      let scope: IdempotencyScope | undefined;
      if (options.idempotencyKey !== undefined) {
        scope = {
          userId: options.userId,
          key: options.idempotencyKey,
          operation: 'reserve',
          request: {
            userId: options.userId,
            amount: options.amount,
            description: options.description,
            ttlSeconds,
          },
        };
        const claim = await claimIdempotencyKey<{ reservationId: string }>(manager, scope);
        if (claim.kind === 'replay') {
          return (await this.readReservation(manager, claim.response.reservationId))!;
        }
      }
      const hold = async (): Promise<boolean> =>
        (
          await queryRows<unknown>(
            manager,
            `UPDATE user_profiles SET reserved = reserved + $2, updated_at = now()
             WHERE id = $1 AND credits - reserved >= $2
             RETURNING 1`,
            [options.userId, options.amount],
          )
        ).length === 1;
      let held = await hold();
      if (!held && (await hasLapsedHolds(manager, options.userId))) {
        await settleExpiredHolds(manager, options.userId);
        held = await hold();
      }
      if (!held) throw new DomainError('INSUFFICIENT_CREDITS', 'Insufficient credits');
      // The UPDATE above holds the profile's lock, under which every hold of this user is
      // made: this count is exact.
      const active: Array<{ n: number }> = await manager.query(
        `SELECT count(*)::int AS n FROM credit_reservations
         WHERE user_id = $1 AND status = 'ACTIVE' AND expires_at > clock_timestamp()`,
        [options.userId],
      );
      if (active[0]!.n >= MAX_ACTIVE_RESERVATIONS) {
        throw new DomainError(
          'BAD_USER_INPUT',
          `A user may have at most ${MAX_ACTIVE_RESERVATIONS} active reservations`,
        );
      }
      const inserted = await queryRows<ReservationRow>(
        manager,
        `INSERT INTO credit_reservations (user_id, amount, status, description, expires_at)
         VALUES ($1, $2, 'ACTIVE', $3, clock_timestamp() + make_interval(secs => $4))
         RETURNING ${RESERVATION_COLUMNS}`,
        [options.userId, options.amount, options.description, ttlSeconds],
      );
      const reservation = toReservation(inserted[0]!);
      if (scope) {
        await storeIdempotentResponse(manager, scope, { reservationId: reservation.id });
      }
      return reservation;
    });
  }

  /**
   * Settles a hold by taking `amount` of it (default all) as one CONSUMPTION linked to the
   * reservation; the rest returns to the spendable balance. Capturing a captured hold again
   * with the same amount replays the first result; an expired or released hold is
   * RESERVATION_NOT_ACTIVE, and then nothing moves.
   */
  async capture(options: CaptureOptions): Promise<CaptureResult> {
    if (options.amount !== undefined) assertAmount(options.amount);
    if (options.description !== undefined) assertDescription(options.description);
    let capturedFor: { userId: string; ticket: number } | undefined;
    const capture = this.transact(undefined, async (manager) => {
      const current = await this.lockReservation(manager, options.reservationId);
      if (current.status === 'CAPTURED') {
        // A replay is the same request: the same amount (omitted means the whole hold) and,
        // if given, the same description.
        const transaction = await manager.findOneByOrFail(CreditTransaction, {
          reservationId: current.id,
        });
        if (
          (options.amount ?? current.amount) !== current.capturedAmount ||
          (options.description !== undefined && options.description !== transaction.description)
        ) {
          throw notActive(current);
        }
        return {
          transaction,
          balance: transaction.balanceAfter,
          replayed: true,
          reservation: current,
        };
      }
      if (current.status !== 'ACTIVE') throw notActive(current);
      const amount = options.amount ?? current.amount;
      if (amount > current.amount) {
        throw new DomainError(
          'BAD_USER_INPUT',
          `amount must be at most the ${current.amount} credits reserved`,
        );
      }
      const settled = await queryRows<ReservationRow>(
        manager,
        `UPDATE credit_reservations
         SET status = 'CAPTURED', captured_amount = $2, settled_at = clock_timestamp()
         WHERE id = $1 AND status = 'ACTIVE'
           AND expires_at > clock_timestamp() + make_interval(secs => $3)
         RETURNING ${RESERVATION_COLUMNS}`,
        [current.id, amount, CAPTURE_MARGIN_SECONDS],
      );
      // It lapsed (or is about to) between the read and the update: nothing was captured.
      if (settled.length === 0) throw notActive({ ...current, status: 'EXPIRED' });
      capturedFor = { userId: current.userId, ticket: this.begin(current.userId) };
      const movement = await applyMovement(manager, {
        userId: current.userId,
        type: 'CONSUMPTION',
        delta: -amount,
        description: options.description ?? current.description,
        mayGoNegative: false,
        reservationId: current.id,
        releaseReserved: current.amount,
      });
      return { ...movement, reservation: toReservation(settled[0]!) };
    });
    let result: CaptureResult;
    try {
      result = await capture;
    } catch (error) {
      if (capturedFor) this.settle(capturedFor.userId, capturedFor.ticket);
      throw error;
    }
    if (capturedFor) {
      this.settle(capturedFor.userId, capturedFor.ticket, result.replayed ? undefined : result);
    }
    return result;
  }

  /**
   * Ends a hold without taking anything: its credits are spendable again. Releasing a
   * released or expired hold returns it unchanged; a captured one is RESERVATION_NOT_ACTIVE.
   */
  async release(reservationId: string): Promise<CreditReservation> {
    return this.transact(undefined, async (manager) => {
      const current = await this.lockReservation(manager, reservationId);
      if (current.status === 'CAPTURED') throw notActive(current);
      if (current.status !== 'ACTIVE') {
        // Lapsed: settle it (and the user's other lapsed holds) so the row says so.
        await settleExpiredHolds(manager, current.userId);
        return (await this.readReservation(manager, current.id))!;
      }
      const released = await queryRows<ReservationRow>(
        manager,
        `UPDATE credit_reservations SET status = 'RELEASED', settled_at = clock_timestamp()
         WHERE id = $1 AND status = 'ACTIVE' AND expires_at > clock_timestamp()
         RETURNING ${RESERVATION_COLUMNS}`,
        [current.id],
      );
      if (released.length === 0) {
        await settleExpiredHolds(manager, current.userId);
        return (await this.readReservation(manager, current.id))!;
      }
      await manager.query(
        `UPDATE user_profiles SET reserved = reserved - $2, updated_at = now() WHERE id = $1`,
        [current.userId, current.amount],
      );
      return toReservation(released[0]!);
    });
  }

  /** A reservation as it stands now (lapsed holds read as EXPIRED), or null. */
  async findReservation(id: string): Promise<CreditReservation | null> {
    if (!UUID.test(id)) return null;
    return this.readReservation(this.dataSource.manager, id);
  }

  /** The CONSUMPTION a captured reservation wrote, or null. */
  async captureOf(reservationId: string): Promise<CreditTransaction | null> {
    if (!UUID.test(reservationId)) return null;
    return this.dataSource.manager.findOneBy(CreditTransaction, { reservationId });
  }

  /**
   * Settles lapsed holds of every user (at most `maxUsers` users per call), for a scheduled
   * job. Not needed for correctness: reads ignore lapsed holds and each user's next write
   * settles them. Returns how many holds it settled.
   */
  async settleExpiredReservations(maxUsers = 1000): Promise<number> {
    const users: Array<{ user_id: string }> = await this.dataSource.query(
      `SELECT DISTINCT user_id FROM credit_reservations
       WHERE status = 'ACTIVE' AND expires_at <= clock_timestamp() LIMIT $1`,
      [maxUsers],
    );
    let settled = 0;
    for (const { user_id } of users) {
      settled += await this.dataSource.transaction((manager) =>
        settleExpiredHolds(manager, user_id),
      );
    }
    return settled;
  }

  /** Credits given back so far for a consumption. */
  async refundedAmount(transactionId: string): Promise<number> {
    const rows: Array<{ total: number }> = await this.dataSource.query(
      `SELECT COALESCE(sum(amount), 0)::int AS total FROM credit_transactions
       WHERE refunded_transaction_id = $1 AND type = 'REFUND'`,
      [transactionId],
    );
    return rows[0]?.total ?? 0;
  }

  /**
   * Users whose balance differs from the sum of their transactions (invariant 1). One
   * statement, so one snapshot: a movement committing meanwhile cannot show as drift.
   */
  async drift(): Promise<CreditDrift[]> {
    const rows: Array<{ user_id: string; credits: number; transaction_sum: string }> =
      await this.dataSource.query(
        `SELECT p.id AS user_id, p.credits, COALESCE(t.total, 0) AS transaction_sum
         FROM user_profiles p
         LEFT JOIN (SELECT user_id, sum(amount) AS total FROM credit_transactions GROUP BY user_id) t
           ON t.user_id = p.id
         WHERE p.credits <> COALESCE(t.total, 0)
         ORDER BY p.id`,
      );
    return rows.map((r) => {
      const transactionSum = Number(r.transaction_sum);
      return {
        userId: r.user_id,
        credits: r.credits,
        transactionSum,
        drift: r.credits - transactionSum,
      };
    });
  }

  /** Users whose stored `reserved` differs from the sum of their ACTIVE holds. */
  async reservedDrift(): Promise<ReservedDrift[]> {
    const rows: Array<{ user_id: string; reserved: number; hold_sum: string }> =
      await this.dataSource.query(
        `SELECT p.id AS user_id, p.reserved, COALESCE(r.total, 0) AS hold_sum
         FROM user_profiles p
         LEFT JOIN (SELECT user_id, sum(amount) AS total FROM credit_reservations
                    WHERE status = 'ACTIVE' GROUP BY user_id) r
           ON r.user_id = p.id
         WHERE p.reserved <> COALESCE(r.total, 0)
         ORDER BY p.id`,
      );
    return rows.map((r) => ({
      userId: r.user_id,
      reserved: r.reserved,
      activeHoldSum: Number(r.hold_sum),
    }));
  }

  private async findTransaction(
    id: string,
    manager?: EntityManager,
  ): Promise<CreditTransaction | null> {
    if (!UUID.test(id)) return null;
    return (manager ?? this.dataSource.manager).findOneBy(CreditTransaction, { id });
  }

  private async readReservation(
    manager: EntityManager,
    id: string,
  ): Promise<CreditReservation | null> {
    const rows: ReservationRow[] = await manager.query(
      `SELECT ${RESERVATION_COLUMNS} FROM credit_reservations WHERE id = $1`,
      [id],
    );
    return rows[0] ? toReservation(rows[0]) : null;
  }

  /**
   * Loads a reservation under its owner's profile lock, the lock every change to a hold is
   * made under, so what it reads stays true until this transaction ends.
   */
  private async lockReservation(
    manager: EntityManager,
    reservationId: string,
  ): Promise<CreditReservation> {
    if (!UUID.test(reservationId)) throw new DomainError('NOT_FOUND', 'Reservation not found');
    const owner: Array<{ user_id: string }> = await manager.query(
      'SELECT user_id FROM credit_reservations WHERE id = $1',
      [reservationId],
    );
    if (!owner[0]) throw new DomainError('NOT_FOUND', 'Reservation not found');
    await lockProfile(manager, owner[0].user_id);
    return (await this.readReservation(manager, reservationId))!;
  }

  /** Runs `work` in the caller's transaction or a new one, turning database refusals into domain errors. */
  private async transact<T>(
    manager: EntityManager | undefined,
    work: (manager: EntityManager) => Promise<T>,
  ): Promise<T> {
    try {
      return manager ? await work(manager) : await runTransaction(this.dataSource, work);
    } catch (error) {
      throw this.translate(error);
    }
  }

  /**
   * Runs one movement: as its own transaction (one database call), or inside the caller's,
   * guarded by its idempotency key when it has one, and announces it after commit.
   */
  private async run(
    operation: string,
    options: Pick<MovementOptions, 'idempotencyKey' | 'manager'>,
    spec: MoveSpec,
    keyedRequest?: Record<string, unknown>,
  ): Promise<CreditMovement> {
    assertUserId(spec.userId);
    assertDescription(spec.description);
    let key: MovementKey | undefined;
    if (options.idempotencyKey !== undefined) {
      assertIdempotencyKey(options.idempotencyKey);
      key = {
        key: options.idempotencyKey,
        operation,
        requestHash: requestHash(
          operation,
          keyedRequest ?? {
            userId: spec.userId,
            type: spec.type,
            delta: spec.delta,
            description: spec.description,
            orderId: spec.orderId ?? null,
            subscriptionId: spec.subscriptionId ?? null,
            periodStart: spec.periodStart?.toISOString() ?? null,
          },
        ),
      };
    }
    const manager = options.manager;
    const ticket = this.begin(spec.userId);
    // Inside a caller's transaction the movement ends with it; by itself, it ends here.
    const whenEnded = (settle: (committed: boolean) => void) => {
      try {
        afterTransaction(manager, settle);
      } catch (error) {
        this.settle(spec.userId, ticket);
        throw error;
      }
    };
    let movement: CreditMovement;
    try {
      movement = await applyMovement(manager ?? this.dataSource.manager, spec, key);
    } catch (error) {
      try {
        whenEnded(() => this.settle(spec.userId, ticket));
      } catch {
        // Not in a runTransaction: whenEnded settled it; the movement's own error matters.
      }
      throw this.translate(error);
    }
    whenEnded((committed) =>
      this.settle(spec.userId, ticket, committed && !movement.replayed ? movement : undefined),
    );
    return movement;
  }

  /**
   * Announcing in commit order. A user's movements commit one after another (the profile's
   * row lock), in `seq` order, but their answers can reach this process in another order:
   * two pool connections answer independently. Each movement takes a ticket when it begins.
   * When one ends, every movement that committed before it has already begun (it committed
   * before this one's answer came), so it holds a ticket no higher than the last one issued
   * then: the `watermark`. An ended movement is announced once no ticket up to its watermark
   * is still open, and announcements go out in `seq` order. Each waits only for movements
   * already under way when it ended, so a busy user's updates are delayed, never starved.
   */
  private readonly underway = new Map<
    string,
    {
      lastTicket: number;
      open: Set<number>;
      ended: Array<{ watermark: number; movement: CreditMovement }>;
    }
  >();

  private begin(userId: string): number {
    if (!this.hooks.afterCommit) return 0;
    let entry = this.underway.get(userId);
    if (!entry) {
      entry = { lastTicket: 0, open: new Set(), ended: [] };
      this.underway.set(userId, entry);
    }
    const ticket = ++entry.lastTicket;
    entry.open.add(ticket);
    return ticket;
  }

  /** A begun movement ended: committed (with what it did) or not (without). */
  private settle(userId: string, ticket: number, committed?: CreditMovement): void {
    const hook = this.hooks.afterCommit;
    const entry = this.underway.get(userId);
    if (!hook || !entry || !entry.open.delete(ticket)) return;
    if (committed) {
      entry.ended.push({ watermark: entry.lastTicket, movement: committed });
      entry.ended.sort((a, b) =>
        compareSeq(a.movement.transaction.seq, b.movement.transaction.seq),
      );
    }
    let oldestOpen = Infinity;
    for (const open of entry.open) oldestOpen = Math.min(oldestOpen, open);
    while (entry.ended.length > 0 && entry.ended[0]!.watermark < oldestOpen) {
      hook(entry.ended.shift()!.movement);
    }
    if (entry.open.size === 0 && entry.ended.length === 0) this.underway.delete(userId);
  }

  private translate(error: unknown): unknown {
    if (error instanceof DomainError) return error;
    const code = pgCode(error);
    const constraint = pgConstraint(error);
    if (code === PG_INSUFFICIENT_CREDITS) {
      return new DomainError('INSUFFICIENT_CREDITS', 'Insufficient credits');
    }
    if (code === PG_UNKNOWN_USER) return new DomainError('NOT_FOUND', 'User not found');
    if (code === PG_KEY_REUSED) {
      return new DomainError(
        'IDEMPOTENCY_KEY_REUSED',
        'This idempotency key was already used with other arguments',
      );
    }
    if (code === PG_FOREIGN_KEY_VIOLATION && constraint?.endsWith('_user')) {
      return new DomainError('NOT_FOUND', 'User not found');
    }
    if (code === PG_UNTRANSLATABLE_CHARACTER || code === PG_INVALID_TEXT_REPRESENTATION) {
      return new DomainError('BAD_USER_INPUT', 'An argument is not valid text or a valid id');
    }
    if (code === PG_NUMERIC_OUT_OF_RANGE) {
      return new DomainError('BAD_USER_INPUT', 'The balance would exceed its maximum');
    }
    if (code === PG_CHECK_VIOLATION && constraint === 'CHK_credit_transactions_refund_total') {
      return new DomainError(
        'BAD_USER_INPUT',
        'Refunds would exceed the credits this transaction took',
      );
    }
    if (code === PG_CHECK_VIOLATION && constraint === 'CHK_credit_transactions_refund_target') {
      return new DomainError('BAD_USER_INPUT', 'Only a CONSUMPTION transaction can be refunded');
    }
    return error;
  }
}

function notActive(reservation: Pick<CreditReservation, 'status'>): DomainError {
  const why: Record<ReservationStatus, string> = {
    ACTIVE: 'is active',
    CAPTURED: 'was already captured',
    RELEASED: 'was released',
    EXPIRED: 'expired',
  };
  return new DomainError('RESERVATION_NOT_ACTIVE', `Reservation ${why[reservation.status]}`, {
    details: { reservationStatus: reservation.status },
  });
}
