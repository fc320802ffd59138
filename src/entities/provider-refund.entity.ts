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
import { Order } from './order.entity';
import { SubscriptionPayment } from './subscription-payment.entity';

/**
 * A refund the provider made of a payment (an order's or a subscription renewal's), recorded once per provider refund id
 * (the unique index): a refund announced by two events, or delivered twice, claws back once.
 */
@Entity('provider_refunds')
@Check('CHK_provider_refunds_amount', `amount_minor > 0`)
@Check('CHK_provider_refunds_credits', `credits_clawed_back >= 0`)
@Index('UQ_provider_refunds_provider_refund', ['provider', 'refundId'], { unique: true })
@Check('CHK_provider_refunds_payment', `num_nonnulls(order_id, subscription_payment_id) = 1`)
@Index('IDX_provider_refunds_order', ['orderId'])
@Index('IDX_provider_refunds_subscription_payment', ['subscriptionPaymentId'], {
  where: `subscription_payment_id IS NOT NULL`,
})
export class ProviderRefund {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 32 })
  provider!: string;

  @Column({ name: 'refund_id', type: 'varchar', length: 255 })
  refundId!: string;

  /** The refunded payment: an order's, or (exactly one of the two) a renewal's. */
  @Column({ name: 'order_id', type: 'uuid', nullable: true })
  orderId!: string | null;

  @ManyToOne(() => Order, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({ name: 'order_id', foreignKeyConstraintName: 'FK_provider_refunds_order' })
  order?: Order | null;

  @Column({ name: 'subscription_payment_id', type: 'uuid', nullable: true })
  subscriptionPaymentId!: string | null;

  @ManyToOne(() => SubscriptionPayment, { onDelete: 'RESTRICT', nullable: true })
  @JoinColumn({
    name: 'subscription_payment_id',
    foreignKeyConstraintName: 'FK_provider_refunds_subscription_payment',
  })
  subscriptionPayment?: SubscriptionPayment | null;

  @Column({ name: 'amount_minor', type: 'integer' })
  amountMinor!: number;

  /** Credits the ledger took back for this refund (the CLAWBACK row's amount, positive). */
  @Column({ name: 'credits_clawed_back', type: 'integer' })
  creditsClawedBack!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
