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
import { CreditReservation } from './credit-reservation.entity';
import { Order } from './order.entity';
import { Subscription } from './subscription.entity';
import { UserProfile } from './user-profile.entity';

export const CREDIT_TRANSACTION_TYPES = [
  'PURCHASE',
  'SUBSCRIPTION_GRANT',
  'CONSUMPTION',
  'REFUND',
  'CLAWBACK',
  'ADJUSTMENT',
] as const;
export type CreditTransactionType = (typeof CREDIT_TRANSACTION_TYPES)[number];

/** Longest description a transaction row accepts (also enforced by the database). */
export const MAX_DESCRIPTION_LENGTH = 500;

/**
 * One credit movement. Rows are only ever inserted: a trigger refuses UPDATE, DELETE and
 * TRUNCATE (DESIGN.md invariant 5), so corrections are new rows. The sign of `amount` is
 * fixed by `type`, and the links each type needs are required by CHECK constraints.
 *
 * `seq` gives a total order for history pages: cursors are taken on it, so a page never
 * repeats or skips a row when others are inserted meanwhile.
 */
@Entity('credit_transactions')
@Check(
  'CHK_credit_transactions_type',
  `type IN ('PURCHASE', 'SUBSCRIPTION_GRANT', 'CONSUMPTION', 'REFUND', 'CLAWBACK', 'ADJUSTMENT')`,
)
@Check(
  'CHK_credit_transactions_amount_sign',
  `(type IN ('PURCHASE', 'SUBSCRIPTION_GRANT', 'REFUND') AND amount > 0) OR (type IN ('CONSUMPTION', 'CLAWBACK') AND amount < 0) OR (type = 'ADJUSTMENT' AND amount <> 0)`,
)
@Check(
  'CHK_credit_transactions_links',
  `(type <> 'PURCHASE' OR order_id IS NOT NULL) AND (type <> 'SUBSCRIPTION_GRANT' OR (subscription_id IS NOT NULL AND period_start IS NOT NULL)) AND (type <> 'REFUND' OR refunded_transaction_id IS NOT NULL)`,
)
@Check('CHK_credit_transactions_description', `length(description) BETWEEN 1 AND 500`)
@Check('CHK_credit_transactions_reservation', `reservation_id IS NULL OR type = 'CONSUMPTION'`)
@Index('UQ_credit_transactions_reservation', ['reservationId'], {
  unique: true,
  where: `reservation_id IS NOT NULL`,
})
@Index('UQ_credit_transactions_purchase_order', ['orderId'], {
  unique: true,
  where: `type = 'PURCHASE'`,
})
@Index('UQ_credit_transactions_subscription_period', ['subscriptionId', 'periodStart'], {
  unique: true,
  where: `type = 'SUBSCRIPTION_GRANT'`,
})
@Index('IDX_credit_transactions_user_seq', ['userId', 'seq'])
@Index('IDX_credit_transactions_refunded', ['refundedTransactionId'], {
  where: `refunded_transaction_id IS NOT NULL`,
})
export class CreditTransaction {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  /** Insertion order; bigint arrives from pg as a string. */
  @Column({ type: 'bigint', generated: 'identity', generatedIdentity: 'ALWAYS' })
  seq!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 255 })
  userId!: string;

  @ManyToOne(() => UserProfile, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'FK_credit_transactions_user' })
  user?: UserProfile;

  @Column({ type: 'varchar', length: 32 })
  type!: CreditTransactionType;

  /** Signed: positive adds credits, negative takes them. */
  @Column({ type: 'integer' })
  amount!: number;

  @Column({ name: 'balance_after', type: 'integer' })
  balanceAfter!: number;

  @Column({ type: 'varchar', length: MAX_DESCRIPTION_LENGTH })
  description!: string;

  @Column({ name: 'order_id', type: 'uuid', nullable: true })
  orderId!: string | null;

  @ManyToOne(() => Order, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'order_id', foreignKeyConstraintName: 'FK_credit_transactions_order' })
  order?: Order | null;

  @Column({ name: 'subscription_id', type: 'uuid', nullable: true })
  subscriptionId!: string | null;

  @ManyToOne(() => Subscription, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({
    name: 'subscription_id',
    foreignKeyConstraintName: 'FK_credit_transactions_subscription',
  })
  subscription?: Subscription | null;

  /** For SUBSCRIPTION_GRANT: the start of the period granted (one grant per period). */
  @Column({ name: 'period_start', type: 'timestamptz', nullable: true })
  periodStart!: Date | null;

  /** For REFUND: the CONSUMPTION row given back. */
  @Column({ name: 'refunded_transaction_id', type: 'uuid', nullable: true })
  refundedTransactionId!: string | null;

  @ManyToOne(() => CreditTransaction, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({
    name: 'refunded_transaction_id',
    foreignKeyConstraintName: 'FK_credit_transactions_refunded',
  })
  refundedTransaction?: CreditTransaction | null;

  /** For a CONSUMPTION that captured a reservation: that reservation (captured once). */
  @Column({ name: 'reservation_id', type: 'uuid', nullable: true })
  reservationId!: string | null;

  @ManyToOne(() => CreditReservation, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({
    name: 'reservation_id',
    foreignKeyConstraintName: 'FK_credit_transactions_reservation',
  })
  reservation?: CreditReservation | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
