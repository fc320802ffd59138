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
import { Subscription } from './subscription.entity';

/**
 * One renewal payment of a subscription (the first payment is its order). Kept so a refund of
 * any period's payment finds what that payment bought: `credits` is what its period grant
 * added, 0 when the period had already been granted by another payment.
 */
@Entity('subscription_payments')
@Check('CHK_subscription_payments_amount', `amount_minor > 0`)
@Check(
  'CHK_subscription_payments_refunded',
  `refunded_minor >= 0 AND refunded_minor <= amount_minor`,
)
@Check('CHK_subscription_payments_credits', `credits >= 0`)
@Check('CHK_subscription_payments_currency', `currency ~ '^[A-Z]{3}$'`)
@Check('CHK_subscription_payments_period', `period_end > period_start`)
@Index('UQ_subscription_payments_provider_transaction', ['provider', 'providerTransactionId'], {
  unique: true,
})
@Index('IDX_subscription_payments_subscription', ['subscriptionId', 'periodStart'])
export class SubscriptionPayment {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'subscription_id', type: 'uuid' })
  subscriptionId!: string;

  @ManyToOne(() => Subscription, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({
    name: 'subscription_id',
    foreignKeyConstraintName: 'FK_subscription_payments_subscription',
  })
  subscription?: Subscription;

  @Column({ type: 'varchar', length: 32 })
  provider!: string;

  @Column({ name: 'provider_transaction_id', type: 'varchar', length: 255 })
  providerTransactionId!: string;

  @Column({ name: 'period_start', type: 'timestamptz' })
  periodStart!: Date;

  @Column({ name: 'period_end', type: 'timestamptz' })
  periodEnd!: Date;

  @Column({ name: 'amount_minor', type: 'integer' })
  amountMinor!: number;

  @Column({ type: 'char', length: 3 })
  currency!: string;

  /** Credits this payment's period grant added (0 if the period was already granted). */
  @Column({ type: 'integer' })
  credits!: number;

  @Column({ name: 'refunded_minor', type: 'integer', default: 0 })
  refundedMinor!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
