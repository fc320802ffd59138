import type { DataSource } from 'typeorm';
import { CreditTransaction, UserProfile } from '../entities';
import { DomainError } from '../errors';

/** Largest page of history a caller may ask for. */
export const MAX_PAGE_SIZE = 100;

export interface CreditSummary {
  /** The balance: the sum of the user's transactions. */
  credits: number;
  /** Credits on unexpired holds. */
  reserved: number;
  /** What a deduction or a new hold may take: credits − reserved (negative after a clawback). */
  available: number;
}

export interface TransactionPage {
  transactions: CreditTransaction[];
  hasNextPage: boolean;
}

/** Profiles and their credit history: the read side of the ledger. */
export class ProfileService {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Returns the user's profile, creating it with a zero balance on first use. The insert
   * ignores a conflict, so concurrent first requests create exactly one row.
   */
  async getOrCreateProfile(userId: string): Promise<UserProfile> {
    assertUserId(userId);
    const repository = this.dataSource.getRepository(UserProfile);
    const existing = await repository.findOneBy({ id: userId });
    if (existing) return existing;
    // ON CONFLICT DO NOTHING makes concurrent first requests create one row; the read after
    // it is a new statement, so it sees a row another request committed meanwhile.
    await this.dataSource.query(
      'INSERT INTO user_profiles (id) VALUES ($1) ON CONFLICT (id) DO NOTHING',
      [userId],
    );
    return repository.findOneByOrFail({ id: userId });
  }

  /** How many users have a profile (the drift check's denominator). */
  async countProfiles(): Promise<number> {
    return this.dataSource.getRepository(UserProfile).count();
  }

  async findProfile(userId: string): Promise<UserProfile | null> {
    if (!isUserId(userId)) return null;
    return this.dataSource.getRepository(UserProfile).findOneBy({ id: userId });
  }

  /**
   * The balance and how much of it is on hold: `reserved` counts unexpired ACTIVE holds only,
   * so a lapsed hold is spendable again the moment it lapses. One statement, one snapshot.
   */
  async creditsOf(userId: string): Promise<CreditSummary | null> {
    if (!isUserId(userId)) return null;
    const rows: Array<{ credits: number; reserved: number }> = await this.dataSource.query(
      `SELECT p.credits,
              COALESCE((SELECT sum(amount) FROM credit_reservations r
                        WHERE r.user_id = p.id AND r.status = 'ACTIVE'
                          AND r.expires_at > clock_timestamp()), 0)::int AS reserved
       FROM user_profiles p WHERE p.id = $1`,
      [userId],
    );
    const row = rows[0];
    if (!row) return null;
    return { credits: row.credits, reserved: row.reserved, available: row.credits - row.reserved };
  }

  /**
   * One page of a user's transactions, newest first. Keyset pagination on `seq`: a row
   * inserted while a client pages never shifts the rows it has yet to see.
   */
  async listTransactions(options: {
    userId: string;
    first: number;
    afterSeq?: string | undefined;
  }): Promise<TransactionPage> {
    const { userId, first, afterSeq } = options;
    assertPageSize(first);
    const qb = this.dataSource
      .getRepository(CreditTransaction)
      .createQueryBuilder('t')
      .where('t.user_id = :userId', { userId })
      .orderBy('t.seq', 'DESC')
      .limit(first + 1);
    if (afterSeq !== undefined) qb.andWhere('t.seq < :afterSeq', { afterSeq });
    const rows = await qb.getMany();
    return { transactions: rows.slice(0, first), hasNextPage: rows.length > first };
  }
}

/** Whether a string can be a user id: 1 to 255 characters, none that PostgreSQL refuses (NUL). */
export function isUserId(userId: unknown): userId is string {
  return (
    typeof userId === 'string' &&
    userId.length > 0 &&
    userId.length <= 255 &&
    !userId.includes('\u0000')
  );
}

export function assertUserId(userId: string): void {
  if (!isUserId(userId)) {
    throw new DomainError('BAD_USER_INPUT', 'userId must be 1 to 255 characters');
  }
}

export function assertPageSize(first: number): void {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new DomainError('BAD_USER_INPUT', `first must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
}
