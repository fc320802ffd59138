import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { UserProfile } from './user-profile.entity';

export const RESERVATION_STATUSES = ['ACTIVE', 'CAPTURED', 'RELEASED', 'EXPIRED'] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

/**
 * A hold on credits for work in progress. Holding moves no credits (the balance and the
 * transaction log are untouched); it makes them unspendable: `user_profiles.reserved` is the
 * sum of the user's ACTIVE reservations, and debits require `credits - reserved` to cover
 * them. A capture turns all or part of the hold into one CONSUMPTION (linked back through
 * `credit_transactions.reservation_id`); a release or expiry ends it with nothing moved.
 *
 * An ACTIVE row past `expires_at` holds nothing: every read counts only unexpired holds, and
 * the next write on the user (or the scheduled sweep) marks it EXPIRED and lowers `reserved`.
 * So a hold whose worker crashed frees itself with no process alive at the moment it lapses.
 *
 * Rows change only from ACTIVE to a final status, once; a trigger refuses other updates and
 * deletes.
 */
@Entity('credit_reservations')
@Check('CHK_credit_reservations_amount', `amount > 0`)
@Check('CHK_credit_reservations_status', `status IN ('ACTIVE', 'CAPTURED', 'RELEASED', 'EXPIRED')`)
@Check('CHK_credit_reservations_description', `length(description) BETWEEN 1 AND 500`)
@Check('CHK_credit_reservations_expiry', `expires_at > created_at`)
@Check('CHK_credit_reservations_settled', `(status = 'ACTIVE') = (settled_at IS NULL)`)
@Check(
  'CHK_credit_reservations_captured',
  `(status = 'CAPTURED') = (captured_amount IS NOT NULL) AND (captured_amount IS NULL OR captured_amount BETWEEN 1 AND amount)`,
)
@Index('IDX_credit_reservations_active', ['userId', 'expiresAt'], { where: `status = 'ACTIVE'` })
@Index('IDX_credit_reservations_expiring', ['expiresAt'], { where: `status = 'ACTIVE'` })
export class CreditReservation {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @ManyToOne(() => UserProfile, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'FK_credit_reservations_user' })
  user?: UserProfile;

  /** Credits held. */
  @Column({ type: 'integer' })
  amount!: number;

  @Column({ type: 'varchar', length: 16 })
  status!: ReservationStatus;

  @Column({ type: 'varchar', length: 500 })
  description!: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  /** When it was captured or released; for an expiry, `expires_at`. */
  @Column({ name: 'settled_at', type: 'timestamptz', nullable: true })
  settledAt!: Date | null;

  /** Credits taken by the capture (at most `amount`; the rest went back). */
  @Column({ name: 'captured_amount', type: 'integer', nullable: true })
  capturedAmount!: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
