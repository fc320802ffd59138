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

/**
 * A refund the provider made of an order's payment, recorded once per provider refund id
 * (the unique index): a refund announced by two events, or delivered twice, claws back once.
 */
@Entity('provider_refunds')
@Check('CHK_provider_refunds_amount', `amount_minor > 0`)
@Check('CHK_provider_refunds_credits', `credits_clawed_back >= 0`)
@Index('UQ_provider_refunds_provider_refund', ['provider', 'refundId'], { unique: true })
@Index('IDX_provider_refunds_order', ['orderId'])
export class ProviderRefund {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 32 })
  provider!: string;

  @Column({ name: 'refund_id', type: 'varchar', length: 255 })
  refundId!: string;

  @Column({ name: 'order_id', type: 'uuid' })
  orderId!: string;

  @ManyToOne(() => Order, { onDelete: 'RESTRICT', nullable: false })
  @JoinColumn({ name: 'order_id', foreignKeyConstraintName: 'FK_provider_refunds_order' })
  order?: Order;

  @Column({ name: 'amount_minor', type: 'integer' })
  amountMinor!: number;

  /** Credits the ledger took back for this refund (the CLAWBACK row's amount, positive). */
  @Column({ name: 'credits_clawed_back', type: 'integer' })
  creditsClawedBack!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
