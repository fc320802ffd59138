import type { DataSource, EntityManager } from 'typeorm';
import { CreditTransaction, MAX_DESCRIPTION_LENGTH, type CreditTransactionType } from '../entities';
import { DomainError } from '../errors';
import { claimIdempotencyKey, storeIdempotentResponse, type IdempotencyScope } from './idempotency';
import { assertUserId } from './profiles';
import { queryRows } from './sql';

/** Largest single movement. Balances are int4; this keeps a sum of a few far from overflow. */
export const MAX_CREDIT_AMOUNT = 100_000_000;

/** The result of a movement: its transaction row and the balance right after it. */
export interface CreditMovement {
  transaction: CreditTransaction;
  balance: number;
  /** True when an idempotency key replayed an earlier result and nothing moved. */
  replayed: boolean;
}

export interface CreditDrift {
  userId: string;
  credits: number;
  transactionSum: number;
  drift: number;
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

interface MoveSpec {
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
}

interface StoredMovement {
  transactionId: string;
  balance: number;
}

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
    description.length > MAX_DESCRIPTION_LENGTH
  ) {
    throw new DomainError(
      'BAD_USER_INPUT',
      `description must be 1 to ${MAX_DESCRIPTION_LENGTH} characters`,
    );
  }
}

/** PostgreSQL error codes the ledger turns into domain errors. */
const PG_FOREIGN_KEY_VIOLATION = '23503';
const PG_CHECK_VIOLATION = '23514';
const PG_NUMERIC_OUT_OF_RANGE = '22003';

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
 * The credits ledger: the only writer of `user_profiles.credits` and `credit_transactions`.
 * Every movement changes the balance with one conditional UPDATE and appends its transaction
 * row in the same database transaction (invariants 1 and 2); nothing is read and then written.
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

  /** Takes credits for work; INSUFFICIENT_CREDITS, and nothing moves, below the amount. */
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
   * balance, like a deduction: taking credits a user never had is a clawback's job.
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
  async clawback(options: MovementOptions & { orderId?: string }): Promise<CreditMovement> {
    assertAmount(options.amount);
    return this.run('clawback', options, {
      userId: options.userId,
      type: 'CLAWBACK',
      delta: -options.amount,
      description: options.description,
      mayGoNegative: true,
      orderId: options.orderId ?? null,
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
      { transactionId: options.transactionId, amount: options.amount ?? null },
    );
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

  private async findTransaction(
    id: string,
    manager?: EntityManager,
  ): Promise<CreditTransaction | null> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null;
    return (manager ?? this.dataSource.manager).findOneBy(CreditTransaction, { id });
  }

  /**
   * Runs one movement in a transaction (or the caller's), guarded by its idempotency key
   * when it has one, and announces it after commit.
   */
  private async run(
    operation: string,
    options: Pick<MovementOptions, 'idempotencyKey' | 'manager'>,
    spec: MoveSpec,
    keyedRequest?: Record<string, unknown>,
  ): Promise<CreditMovement> {
    assertUserId(spec.userId);
    assertDescription(spec.description);
    const work = async (manager: EntityManager): Promise<CreditMovement> => {
      let scope: IdempotencyScope | undefined;
      if (options.idempotencyKey !== undefined) {
        scope = {
          userId: spec.userId,
          key: options.idempotencyKey,
          operation,
          request: keyedRequest ?? {
            userId: spec.userId,
            type: spec.type,
            delta: spec.delta,
            description: spec.description,
            orderId: spec.orderId ?? null,
            subscriptionId: spec.subscriptionId ?? null,
            periodStart: spec.periodStart?.toISOString() ?? null,
          },
        };
        const claim = await claimIdempotencyKey<StoredMovement>(manager, scope);
        if (claim.kind === 'replay') {
          const transaction = await manager.findOneByOrFail(CreditTransaction, {
            id: claim.response.transactionId,
          });
          return { transaction, balance: claim.response.balance, replayed: true };
        }
      }
      const movement = await this.move(manager, spec);
      if (scope) {
        await storeIdempotentResponse(manager, scope, {
          transactionId: movement.transaction.id,
          balance: movement.balance,
        } satisfies StoredMovement);
      }
      return movement;
    };

    let movement: CreditMovement;
    try {
      movement = options.manager
        ? await work(options.manager)
        : await this.dataSource.transaction('READ COMMITTED', work);
    } catch (error) {
      throw this.translate(error);
    }
    // Side effects after commit only (STYLE 10); inside a caller's transaction, the caller
    // announces once it commits.
    if (!options.manager && !movement.replayed) this.hooks.afterCommit?.(movement);
    return movement;
  }

  /** The balance change and its row: one atomic conditional UPDATE, then one INSERT. */
  private async move(manager: EntityManager, spec: MoveSpec): Promise<CreditMovement> {
    const updated = await queryRows<{ credits: number }>(
      manager,
      `UPDATE user_profiles SET credits = credits + $2, updated_at = now()
       WHERE id = $1 AND ($3 OR credits + $2 >= 0)
       RETURNING credits`,
      [spec.userId, spec.delta, spec.mayGoNegative],
    );
    const balance = updated[0]?.credits;
    if (balance === undefined) {
      const exists: unknown[] = await manager.query('SELECT 1 FROM user_profiles WHERE id = $1', [
        spec.userId,
      ]);
      if (exists.length === 0) throw new DomainError('NOT_FOUND', 'User not found');
      throw new DomainError('INSUFFICIENT_CREDITS', 'Insufficient credits');
    }
    const inserted = await queryRows<{ id: string; seq: string; created_at: Date }>(
      manager,
      `INSERT INTO credit_transactions
         (user_id, type, amount, balance_after, description, order_id, subscription_id, period_start, refunded_transaction_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       RETURNING id, seq, created_at`,
      [
        spec.userId,
        spec.type,
        spec.delta,
        balance,
        spec.description,
        spec.orderId ?? null,
        spec.subscriptionId ?? null,
        spec.periodStart ?? null,
        spec.refundedTransactionId ?? null,
      ],
    );
    const row = inserted[0]!;
    const transaction = Object.assign(new CreditTransaction(), {
      id: row.id,
      seq: row.seq,
      userId: spec.userId,
      type: spec.type,
      amount: spec.delta,
      balanceAfter: balance,
      description: spec.description,
      orderId: spec.orderId ?? null,
      subscriptionId: spec.subscriptionId ?? null,
      periodStart: spec.periodStart ?? null,
      refundedTransactionId: spec.refundedTransactionId ?? null,
      createdAt: row.created_at,
    });
    return { transaction, balance, replayed: false };
  }

  private translate(error: unknown): unknown {
    if (error instanceof DomainError) return error;
    const code = pgCode(error);
    const constraint = pgConstraint(error);
    if (code === PG_FOREIGN_KEY_VIOLATION && constraint?.endsWith('_user')) {
      return new DomainError('NOT_FOUND', 'User not found');
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
