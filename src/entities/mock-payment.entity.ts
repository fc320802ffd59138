import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  UpdateDateColumn,
} from 'typeorm';

export const MOCK_PAYMENT_STATUSES = ['OPEN', 'PAID', 'CANCELLED'] as const;
export type MockPaymentStatus = (typeof MOCK_PAYMENT_STATUSES)[number];

/**
 * The mock provider's own records: what a hosted provider keeps on its side (a checkout, its
 * payment, refunds, the subscription it started). They live in Tally's database only so a
 * restart loses nothing; billing never reads them, it asks the provider like any other.
 */
@Entity('mock_payments')
@Check('CHK_mock_payments_status', `status IN ('OPEN', 'PAID', 'CANCELLED')`)
@Check('CHK_mock_payments_amount', `amount_minor > 0`)
@Check('CHK_mock_payments_refunded', `refunded_minor >= 0 AND refunded_minor <= amount_minor`)
@Check(
  'CHK_mock_payments_subscription_status',
  `subscription_status IS NULL OR subscription_status IN ('ACTIVE', 'PAST_DUE', 'CANCELLED')`,
)
@Index('UQ_mock_payments_subscription', ['subscriptionId'], {
  unique: true,
  where: `subscription_id IS NOT NULL`,
})
export class MockPayment {
  /** The checkout id handed to billing (`mck_…`). */
  @PrimaryColumn({ name: 'checkout_id', type: 'varchar', length: 64 })
  checkoutId!: string;

  @Column({ name: 'order_id', type: 'uuid' })
  orderId!: string;

  @Column({ name: 'product_name', type: 'varchar', length: 200 })
  productName!: string;

  @Column({ name: 'recurring', type: 'boolean' })
  recurring!: boolean;

  @Column({ name: 'amount_minor', type: 'integer' })
  amountMinor!: number;

  @Column({ type: 'char', length: 3 })
  currency!: string;

  @Column({ type: 'varchar', length: 16, default: 'OPEN' })
  status!: MockPaymentStatus;

  /** The payment of the checkout (the first period's, for a subscription). */
  @Column({ name: 'transaction_id', type: 'varchar', length: 64, nullable: true })
  transactionId!: string | null;

  @Column({ name: 'refunded_minor', type: 'integer', default: 0 })
  refundedMinor!: number;

  @Column({ name: 'subscription_id', type: 'varchar', length: 64, nullable: true })
  subscriptionId!: string | null;

  @Column({ name: 'subscription_status', type: 'varchar', length: 16, nullable: true })
  subscriptionStatus!: 'ACTIVE' | 'PAST_DUE' | 'CANCELLED' | null;

  @Column({ name: 'period_start', type: 'timestamptz', nullable: true })
  periodStart!: Date | null;

  @Column({ name: 'period_end', type: 'timestamptz', nullable: true })
  periodEnd!: Date | null;

  /** The subscription ends when its clock reaches `period_end` instead of renewing. */
  @Column({ name: 'cancel_at_period_end', type: 'boolean', default: false })
  cancelAtPeriodEnd!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
